"""forecast: Keras time-series forecasting from one YAML file."""

__version__ = "0.1.0"
