"""User-facing errors: the CLI prints their message as one line and exits with `exit_code`."""


class T2VError(Exception):
    """An error caused by what the user asked for, not by a bug in t2v."""

    exit_code = 2


class ConfigError(T2VError):
    """A configuration value that cannot work (bad genre file, impossible resolution, ...)."""


class RunDirError(T2VError):
    """The run directory cannot be used for this run."""
