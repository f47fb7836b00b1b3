"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input (missing path, wrong format, bad option)."""


def one_line(error: UserError) -> str:
    """The error's message; for one raised in a DataLoader worker, which torch re-raises with the
    worker's traceback in its message, the original message alone (the traceback's last line)."""
    message = str(error)
    if "\nOriginal Traceback" in message:
        return message.rstrip().splitlines()[-1].partition(": ")[2]
    return message
