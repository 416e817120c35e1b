"""fieldkit: offline-first, end-to-end encrypted field data collection."""

__version__ = "0.2.0"

__all__ = ["__version__"]
