"""I-LOLA artifact: recover agents' rewards from how their policies change while they learn."""

__version__ = "0.1.0"
