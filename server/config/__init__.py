"""Configuration: YAML files in one directory -> frozen values, checked all at once.

``load_config(path)`` returns a :class:`Config`; IVR values come from
``ivr.model``, ACD values from ``queues.model``, server settings from
``server.config.settings``.  Every problem found raises one
:class:`ConfigError` carrying them all.
"""

from .check import check_config_main
from .loader import FILES, Config, load_config
from .problems import ConfigError, Problem
from .secrets import hash_secret, verify_secret
from .settings import ServerSettings, User

__all__ = [
    "FILES",
    "Config",
    "ConfigError",
    "Problem",
    "ServerSettings",
    "User",
    "check_config_main",
    "hash_secret",
    "load_config",
    "verify_secret",
]
