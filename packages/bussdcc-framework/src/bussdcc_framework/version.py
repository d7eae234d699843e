"""The framework's version, read by `hatch version`."""

__version__ = "0.47.0"
