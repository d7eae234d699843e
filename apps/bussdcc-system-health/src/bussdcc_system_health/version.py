"""The app's version, read by `hatch version`."""

__version__ = "0.23.0"
