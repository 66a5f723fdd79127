"""Small data tables read from a path or from the file's text (UniAudio's phone, singing and note tables): one place
decides what is a path, how the file is read and which line breaks count."""
from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidInput


def table_lines(path_or_text: Any, what: str, caller: str) -> tuple[str, list[str]]:
    """(description for messages, the lines without trailing blank ones) of a table given as a path (an
    ``os.PathLike``, or a ``str`` without a line break) or as its text (a ``str`` with one). ``what`` names the table
    in messages, ``caller`` the function that was given something else."""
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        text, where = path_or_text, f"the {what}"
    elif isinstance(path_or_text, (str, os.PathLike)):
        where = f"{what} {os.fspath(path_or_text)}"
        try:
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"unreadable {where}: {e}") from None
    else:
        raise InvalidInput(f"{caller} takes a path or the file's text, got {type(path_or_text).__name__}")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # the line breaks open() reads as such
    while lines and not lines[-1].strip():  # trailing blank lines (a final newline)
        lines.pop()
    if not lines:
        raise InvalidInput(f"{where} is empty")
    return where, lines
