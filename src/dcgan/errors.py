"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input (missing path, wrong format, bad option)."""
