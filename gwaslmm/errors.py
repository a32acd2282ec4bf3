"""The library's error hierarchy.  The CLI maps these to exit codes:
InputError and NumericalError -> 1 (bad data), UsageError -> 2 (bad usage)."""


class GwaslmmError(Exception):
    """Base class of every error gwaslmm raises on purpose."""

    exit_code = 1


class InputError(GwaslmmError):
    """An input file or value is malformed or inconsistent (bad data)."""

    exit_code = 1


class UsageError(GwaslmmError):
    """Options that contradict each other or name things that do not exist."""

    exit_code = 2


class NumericalError(GwaslmmError):
    """A computation cannot produce a trustworthy number (singular matrix, ...)."""

    exit_code = 1
