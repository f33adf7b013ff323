"""The text of a user's query: where its statement ends, before trailing semicolons and comments.

A query is run as it is in one place and wrapped as a derived table in others (a stateful sync
joins it with its state), where ``SELECT ...; -- note`` is a syntax error. The query is read as
the SQL lexers read it, piece by piece, so a ``--``, ``/*`` or ``;`` inside a string literal,
a quoted name or a PostgreSQL dollar-quoted string is never taken for the end.
"""

from __future__ import annotations

import re

_PIECES = re.compile(
    # Quoted: a string literal ('' escapes a quote), a quoted name, a backquoted name (MySQL,
    # BigQuery) or PostgreSQL's dollar quoting; an unterminated one runs to the end.
    r"(?P<quoted>'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|\Z))"
    # What the statement may end with and not need: comments, semicolons, white space.
    r"|(?P<trailing>--[^\n]*|/\*.*?(?:\*/|\Z)|;|\s+)"
    # A word (PostgreSQL names may hold a "$" after the first character), or any other character.
    r"|\w[\w$]*|.",
    re.DOTALL,
)


def statement_of(sql: str) -> str:
    """``sql`` up to the end of its last piece that is not a comment, a semicolon or white space."""
    end = 0
    for piece in _PIECES.finditer(sql):
        if piece.lastgroup != "trailing":
            end = piece.end()
    return sql[:end]
