"""The toolbox's shared exception, in a module with no imports so that every layer (``srl``, ``rlzoo``, the
command lines) can raise and catch it without loading anything else."""


class ConfigError(ValueError):
    """A bad value or combination in a config or on a command line.

    The message is one paragraph that names the bad value and says what would be valid; command lines print it as
    ``error: <message>`` and exit with status 2, before any env, folder or model exists.
    """
