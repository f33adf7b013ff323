"""Booleans written as text (a templated argument, a connection's extra): one set of words for all.

The words are those of Python's ``strtobool``, the set Airflow's own readers take from
(``conf.getboolean`` accepts a part, ``airflow.utils.strings.to_boolean`` its true half): a value
Airflow reads as a boolean reads the same here. docs/decisions/27-flag-words.md says why.
"""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})


def flag_word(text: str) -> bool | None:
    """The boolean ``text`` names (case and surrounding blanks aside), or None for any other text."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def read_flag(value: Any, name: str) -> bool:
    """A templated boolean: a bool, or its rendering as text; nothing (``None``, empty) is false.

    :param value: the argument as given or rendered.
    :param name: the argument's name, for the error raised on any other value.
    """
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    if text.strip().lower() in ("", "none"):
        return False
    flag = flag_word(text)
    if flag is None:
        words = ", ".join(sorted(TRUE_WORDS | FALSE_WORDS))
        raise ValueError(f"{name} must be true or false ({words}), got {value!r}")
    return flag
