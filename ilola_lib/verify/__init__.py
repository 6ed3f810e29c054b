"""Checking a regeneration against the committed results: ``python -m ilola_lib.verify`` (``make verify``).

Imports ``core`` and ``analysis`` only; no pipeline stage imports it, so editing it reruns nothing.
"""
