"""The package version (its own module, so that modules recording it import nothing above them)."""

__version__ = "0.1.0"
