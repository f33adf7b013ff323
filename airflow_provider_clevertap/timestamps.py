"""The "Convert Timestamps" rule: ISO-8601 strings and datetimes become CleverTap timestamps.

A string converts only when it is an ISO-8601 date or date-time with at most millisecond
precision; anything else (micro/nanoseconds, impossible dates, digit-only strings, other
formats) is left exactly as it is, because it may be a legitimate string property.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import re
from typing import Any, Literal

TimestampFormat = Literal["unix", "clevertap_date"]
TIMESTAMP_FORMATS: tuple[str, ...] = ("unix", "clevertap_date")

ISO_8601 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,3}))?)?"
    # Offsets from -23:59 to +23:59: a minutes field over 59 is no offset.
    r"(?P<offset>Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?",
    re.ASCII,
)


def parse_iso_timestamp(text: str) -> int | None:
    """Return the Unix time in whole seconds (floored) of an ISO-8601 string, or None.

    None means the string is not one the rule converts.
    """
    match = ISO_8601.fullmatch(text)
    if match is None:
        return None
    parts = match.groupdict()
    try:
        moment = dt.datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=_parse_offset(parts["offset"]),
        )
    except ValueError:  # an impossible date or time: not a timestamp
        return None
    # The fraction is dropped: whole seconds, floored.
    return datetime_to_epoch(moment)


def _parse_offset(offset: str | None) -> dt.tzinfo:
    if offset is None or offset == "Z":
        return dt.timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def datetime_to_epoch(value: dt.datetime | dt.date) -> int:
    """Unix time in whole seconds (floored) of a datetime or date; naive values are UTC."""
    if not isinstance(value, dt.datetime):
        return calendar.timegm(value.timetuple())
    # Wall-clock time minus the offset, in whole microseconds: utctimetuple() would raise
    # OverflowError when the offset moves the time past year 1 or 9999. Floor division floors.
    offset = value.utcoffset() or dt.timedelta(0)
    offset_us = (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds
    wall_us = calendar.timegm(value.timetuple()) * 1_000_000 + value.microsecond
    return (wall_us - offset_us) // 1_000_000


def format_epoch(seconds: int, timestamp_format: TimestampFormat = "unix") -> int | str:
    """Render epoch seconds as CleverTap expects them: a number, or a ``$D_`` date property."""
    if timestamp_format == "clevertap_date":
        return f"$D_{seconds}"
    return seconds


def convert_timestamp(value: Any, timestamp_format: TimestampFormat = "unix") -> Any:
    """Apply the Convert Timestamps rule to one property value.

    Datetimes, dates and ISO-8601 strings of at most millisecond precision become epoch
    seconds (``unix``) or ``"$D_<seconds>"`` (``clevertap_date``); every other value is
    returned unchanged.
    """
    if isinstance(value, str):
        seconds = parse_iso_timestamp(value)
        return value if seconds is None else format_epoch(seconds, timestamp_format)
    if isinstance(value, (dt.datetime, dt.date)):
        return format_epoch(datetime_to_epoch(value), timestamp_format)
    return value


_EPOCH_TEXT = re.compile(r"\d+(\.\d+)?", re.ASCII)
_EPOCH = dt.datetime(1970, 1, 1)
_UTC = dt.timezone.utc
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_FIXED_OFFSET = dt.timezone
_from_iso = dt.datetime.fromisoformat
# The rule's pattern without its named groups: the hot path asks only whether a string matches.
_RULE_SHAPE = re.compile(re.sub(r"\(\?P<\w+>", "(?:", ISO_8601.pattern), ISO_8601.flags)

# Mapping rows is the hot path of a sync, hence the shortcuts below: each gives the very result of
# the plain rule above it stands for (tests/test_properties_equivalence.py compares them on
# generated values).


# Speed shortcut for datetime_to_epoch; what it buys: docs/benchmarks.md, "The speed shortcuts".
def epoch_seconds(moment: dt.datetime | dt.date) -> int:
    """``datetime_to_epoch``, by one subtraction for a plain datetime: the same floor, less work."""
    if type(moment) is dt.datetime:
        zone = moment.tzinfo
        # A fixed offset (what fromisoformat and drivers give) always knows its offset.
        if zone is None or (type(zone) is not _FIXED_OFFSET and moment.utcoffset() is None):
            since = moment - _EPOCH  # naive: UTC
        else:
            since = moment - _EPOCH_UTC
        # A timedelta keeps its seconds and microseconds positive: this is the floor.
        return since.days * 86_400 + since.seconds
    return datetime_to_epoch(moment)


# Speed shortcut for parse_iso_timestamp; what it buys: docs/benchmarks.md, "The speed shortcuts".
def rule_seconds(text: str) -> int | None:
    """``parse_iso_timestamp(text)``: the rule's pattern decides, the C parser reads the fields.

    ``fromisoformat`` reads every string the pattern accepts as the rule does; before Python
    3.11 it refuses ``Z`` and offsets without a colon, and those take the plain path.
    """
    if _RULE_SHAPE.fullmatch(text) is None:
        return None
    try:
        return epoch_seconds(_from_iso(text))
    except ValueError:  # an impossible date, or an older fromisoformat: the plain path decides
        return parse_iso_timestamp(text)


def ts_text_seconds(text: str) -> int | None:
    """Epoch seconds of a ts given as text: epoch seconds, or any ISO-8601 date(-time); else None.

    Wider than the Convert Timestamps rule for property values: a ts column holds times by
    definition, so a space instead of ``T`` (SQLite's ``CURRENT_TIMESTAMP``) or microseconds
    (a PostgreSQL timestamp cast to text) still read as times.
    """
    text = text.strip()
    if "-" not in text and _EPOCH_TEXT.fullmatch(text):  # a date has a "-", epoch seconds never
        return int(decimal.Decimal(text))
    # fromisoformat reads what the rule reads (and more), with the same result; before Python
    # 3.11 it reads less, so the rule's own parser comes second.
    try:
        return epoch_seconds(_from_iso(text))
    except OverflowError:
        return None
    except ValueError:
        pass
    try:
        return parse_iso_timestamp(text)
    except OverflowError:  # a valid date-time whose UTC instant is before year 1 or after 9999
        return None
