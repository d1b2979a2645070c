"""Errors in what the user asked for, as opposed to bugs: reported as one line, exit code 2."""


class ConfigError(ValueError):
    """A config value, or a combination of values, that cannot work."""
