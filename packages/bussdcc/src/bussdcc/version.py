"""The kernel's version, read by `hatch version`."""

__version__ = "0.43.0"
