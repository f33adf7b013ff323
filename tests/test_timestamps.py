"""The "Convert Timestamps" rule.

Expected values are computed here, independently of the code under test: with
``calendar.timegm`` on the wall-clock fields minus the UTC offset, or with timedelta arithmetic
from the epoch; a few anchors are checked by hand in the comments.
"""

from __future__ import annotations

import calendar
import datetime as dt

import pendulum
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.timestamps import (
    TIMESTAMP_FORMATS,
    convert_timestamp,
    datetime_to_epoch,
    format_epoch,
    parse_iso_timestamp,
)

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1)


def at(year, month, day, hour=0, minute=0, second=0, offset_minutes=0) -> int:
    """Unix seconds of a wall-clock time read at a UTC offset (east positive)."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset_minutes * 60


# 2023-05-18T22:58:45Z by hand: 2023-05-18 is day 19495 since 1970-01-01
# (53 years * 365 + 13 leap days = 19358, + 137 days into 2023), 19495 * 86400 = 1684368000,
# + 22:58:45 (82725 s) = 1684450725. Not the product page's 1684475925 (7 hours off).
ANCHOR = 1684450725
assert at(2023, 5, 18, 22, 58, 45) == ANCHOR == 19495 * 86400 + 22 * 3600 + 58 * 60 + 45

CONVERTED = [
    ("2023-05-18T22:58:45+00:00", ANCHOR),
    ("2023-05-18T22:58:45Z", ANCHOR),
    ("2023-05-18T22:58:45", ANCHOR),  # no offset: UTC
    ("2023-05-18T15:58:45-07:00", ANCHOR),  # the same instant in US Pacific daylight time
    ("2023-05-18T15:58:45-0700", ANCHOR),
    ("2023-05-19T04:28:45+05:30", ANCHOR),
    ("2023-05-19T04:28:45+0530", ANCHOR),
    ("2023-05-18T22:58", ANCHOR - 45),
    ("2023-05-18T22:58Z", ANCHOR - 45),
    ("2023-05-18T23:58+01:00", ANCHOR - 45),
    ("2023-05-18T22:58:45.9Z", ANCHOR),  # floored, not rounded
    ("2023-05-18T22:58:45.99", ANCHOR),
    ("2023-05-18T22:58:45.999+00:00", ANCHOR),
    ("2023-05-18T22:58:45.000Z", ANCHOR),
    ("2025-08-13T15:45:17.451Z", at(2025, 8, 13, 15, 45, 17)),
    ("2023-05-18", ANCHOR - (22 * 3600 + 58 * 60 + 45)),  # a date alone is midnight UTC
    ("2000-01-01", 946684800),
    ("1970-01-01", 0),
    ("1970-01-01T00:00:00+14:00", -14 * 3600),
    ("1969-12-31T23:59:59.999Z", -1),  # floored towards the past
    ("2024-02-29", at(2024, 2, 29)),  # a leap day
    ("2000-02-29T12:00:00-12:00", at(2000, 2, 29, 12, offset_minutes=-720)),
    ("2023-12-31T23:59:59-00:30", at(2024, 1, 1, 0, 29, 59)),
    ("0001-01-01T00:00:00+01:00", at(1, 1, 1, offset_minutes=60)),  # before year 1 in UTC
    ("9999-12-31T23:59:59-01:00", at(9999, 12, 31, 23, 59, 59, offset_minutes=-60)),  # after 9999 in UTC
]


@pytest.mark.parametrize(("text", "expected"), CONVERTED)
def test_iso_strings_convert_to_unix_seconds(text, expected):
    assert parse_iso_timestamp(text) == expected
    assert convert_timestamp(text) == expected
    assert type(convert_timestamp(text)) is int
    assert convert_timestamp(text, "unix") == expected
    assert convert_timestamp(text, "clevertap_date") == f"$D_{expected}"


def test_the_documented_example():
    assert convert_timestamp("2023-05-18T22:58:45+00:00") == 1684450725
    assert convert_timestamp("2023-05-18T22:58:45+00:00", "clevertap_date") == "$D_1684450725"
    assert convert_timestamp("2023-05-18T22:58:45+00:00") != 1684475925


LEFT_ALONE = [
    # more than millisecond precision
    "2025-08-13T02:08:40.1418726Z",
    "2025-08-13T02:08:40.1234Z",
    "2025-08-13T02:08:40.123456",
    "2025-08-13T02:08:40.123456789+00:00",
    # impossible dates and times
    "2025-02-30",
    "2023-02-29",
    "1900-02-29",
    "2025-13-01",
    "2025-00-10",
    "2025-04-31T10:00:00Z",
    "2025-08-13T25:00:00Z",
    "2025-08-13T12:60:00Z",
    "2025-08-13T12:30:61Z",
    "2025-08-13T12:00:00+25:00",
    "2025-08-13T12:00:00+24:00",
    "2025-08-13T12:00:00+05:60",
    "2025-08-13T12:00:00-0575",
    # digits only
    "1684450725",
    "20230518",
    "0123456789",
    "2023",
    # extra text
    "2023-05-18T22:58:45Z trailing",
    " 2023-05-18",
    "2023-05-18 ",
    "2023-05-18\n",
    "signup: 2023-05-18",
    "2023-05-18T22:58:45ZZ",
    # other formats
    "2023-05-18 22:58:45",
    "2023/05/18",
    "18/05/2023",
    "05-18-2023",
    "May 18, 2023",
    "2023-5-18",
    "23-05-18",
    "2023-05-18T22",
    "2023-05-18T22:58:45.",
    "2023-05-18T22:58:45.Z",
    "2023-05-18T22:58:45,123Z",
    "2023-05-18T22:58:45+5:30",
    "2023-05-18T22:58:45+05",
    "2023-05-18T22:58:45 UTC",
    "2023-05-18t22:58:45z",
    "2023-W20-4",
    "2023-138",
    "\uff12\uff10\uff12\uff13-05-18",  # full-width digits
    "",
]


@pytest.mark.parametrize("text", LEFT_ALONE)
@pytest.mark.parametrize("timestamp_format", TIMESTAMP_FORMATS)
def test_other_strings_are_left_exactly_as_they_are(text, timestamp_format):
    assert parse_iso_timestamp(text) is None
    assert convert_timestamp(text, timestamp_format) is text


@pytest.mark.parametrize(
    "value", [1684450725, 1.5, True, None, ["2023-05-18"], {"at": "2023-05-18"}, dt.time(12, 0), b"2023-05-18"]
)
def test_values_that_are_not_dates_pass_through(value):
    assert convert_timestamp(value) is value
    assert convert_timestamp(value, "clevertap_date") is value


DATETIMES = [
    (dt.datetime(2023, 5, 18, 22, 58, 45), ANCHOR),  # naive: UTC
    (dt.datetime(2023, 5, 18, 22, 58, 45, tzinfo=UTC), ANCHOR),
    (dt.datetime(2023, 5, 18, 22, 58, 45, 999999, tzinfo=UTC), ANCHOR),  # floored
    (dt.datetime(2023, 5, 19, 4, 28, 45, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))), ANCHOR),
    (dt.datetime(1969, 12, 31, 23, 59, 59, 500000), -1),
    (dt.date(2023, 5, 18), ANCHOR - 82725),
    (dt.date(1970, 1, 1), 0),
    (pendulum.datetime(2023, 5, 18, 15, 58, 45, tz="America/Los_Angeles"), ANCHOR),
    (pendulum.datetime(2023, 5, 18, 22, 58, 45), ANCHOR),
    (pendulum.naive(2023, 5, 18, 22, 58, 45), ANCHOR),
    (pendulum.date(2023, 5, 18), ANCHOR - 82725),
    (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), at(1, 1, 1, offset_minutes=60)),
    (
        dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-1))),
        at(9999, 12, 31, 23, 59, 59, offset_minutes=-60),
    ),
]


@pytest.mark.parametrize(("value", "expected"), DATETIMES)
def test_datetimes_and_dates_convert(value, expected):
    assert datetime_to_epoch(value) == expected
    assert convert_timestamp(value) == expected
    assert convert_timestamp(value, "clevertap_date") == f"$D_{expected}"


def test_format_epoch():
    assert format_epoch(ANCHOR) == ANCHOR
    assert format_epoch(ANCHOR, "unix") == ANCHOR
    assert format_epoch(ANCHOR, "clevertap_date") == "$D_1684450725"
    assert format_epoch(-1, "clevertap_date") == "$D_-1"
    assert set(TIMESTAMP_FORMATS) == {"unix", "clevertap_date"}


# -- property: generated millisecond date-times survive formatting and parsing -----------------

OFFSET_MINUTES = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)
MOMENTS = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


def _fields(moment: dt.datetime) -> str:
    date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    return f"{date}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def _offset(minutes: int, colon: bool) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


@settings(max_examples=300, deadline=None)
@given(
    moment=MOMENTS,
    offset_minutes=OFFSET_MINUTES,
    digits=st.integers(min_value=0, max_value=3),
    offset_style=st.sampled_from(["colon", "compact", "Z-or-none"]),
)
@example(moment=dt.datetime(1, 1, 1), offset_minutes=60, digits=0, offset_style="colon")
@example(moment=dt.datetime(9999, 12, 31, 23, 59, 59, 999000), offset_minutes=-1, digits=3, offset_style="compact")
def test_millisecond_datetimes_round_trip(moment, offset_minutes, digits, offset_style):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # milliseconds
    fraction = f".{moment.microsecond // 1000:03d}"[: digits + 1] if digits else ""
    if offset_style == "Z-or-none":
        offset_minutes = 0
        suffix = "Z" if moment.second % 2 else ""
    else:
        suffix = _offset(offset_minutes, colon=offset_style == "colon")
    text = _fields(moment) + fraction + suffix

    # ``moment`` is the wall-clock time at the offset; the instant is that minus the offset.
    # Whole seconds, floored: the fraction never changes them (it only adds to the seconds).
    expected = (moment.replace(microsecond=0) - EPOCH) // dt.timedelta(seconds=1) - offset_minutes * 60

    assert parse_iso_timestamp(text) == expected
    assert convert_timestamp(text, "clevertap_date") == f"$D_{expected}"
    # The same instant as a datetime converts to the same number.
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    assert datetime_to_epoch(aware) == expected


@settings(max_examples=100, deadline=None)
@given(moment=MOMENTS, offset_minutes=OFFSET_MINUTES, extra_digits=st.text("0123456789", min_size=4, max_size=9))
def test_more_than_millisecond_precision_is_never_converted(moment, offset_minutes, extra_digits):
    text = f"{_fields(moment)}.{extra_digits}{_offset(offset_minutes, colon=True)}"
    assert parse_iso_timestamp(text) is None
    assert convert_timestamp(text) is text


@settings(max_examples=100, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=20))
def test_digit_only_strings_are_never_converted(text):
    assert convert_timestamp(text) is text
