"""The "Convert Timestamps" rule: ISO-8601 strings and datetimes become CleverTap timestamps.

A string converts only when it is an ISO-8601 date or date-time with at most millisecond
precision; anything else (micro/nanoseconds, impossible dates, digit-only strings, other
formats) is left exactly as it is, because it may be a legitimate string property.
"""

from __future__ import annotations

import calendar
import datetime as dt
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
