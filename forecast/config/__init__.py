"""The YAML config: the schema (`forecast.config.schema`, one file per section) and its loader.

This package must stay free of TensorFlow/Keras: `forecast validate` and `forecast --help` go through it.
"""

from forecast.config import loader, schema
from forecast.config.loader import *  # noqa: F403  load, validate, read_yaml, ... (loader.__all__)
from forecast.config.schema import *  # noqa: F403  Config and one model per section (schema.__all__)

__all__ = [*loader.__all__, *schema.__all__]
