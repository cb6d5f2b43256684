"""UserError: a message for the user, shown as is (exit code 2 on the command line)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: an unknown id, a bad URL, an unreadable file."""
