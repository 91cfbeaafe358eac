"""The package version, in a module of its own so every stage can import it without the package face."""

__version__ = "0.3.0"
