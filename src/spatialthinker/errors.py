"""The one exception for bad user input (options, config keys, files, rows): the CLI prints it as one line, exit 2.

Why a class of its own: a traceback-free one-line message with exit code 2 is right for a mistake the user can fix
(a misspelled key, a missing file, a broken row), and wrong for a bug, which should keep its traceback and exit 1.
Subclassing ``ValueError`` keeps every existing ``except ValueError`` working.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input, with a message that names the option, key, file or row and what was expected."""
