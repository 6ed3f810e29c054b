"""Environments and their reward features (``φ_i`` with known true weights ``ω_i*``)."""
