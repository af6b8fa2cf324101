"""The one exception type a user can cause; the CLI prints it as one line and exits non-zero."""


class BenchError(Exception):
    """An error with a message that says what to change."""
