"""The package's version, in a module of its own so that anything may import it without loading the API."""

__version__ = "0.1.0"  # keep equal to pyproject.toml's [project] version
