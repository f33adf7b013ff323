"""The speed shortcuts of properties.py and timestamps.py give the very results of the plain code they replace.

Mapping rows is the hot path of a sync, hence shortcuts there (timestamps read by
``datetime.fromisoformat``, epoch seconds by subtraction, common values kept without a call; what
each buys: docs/benchmarks.md, "The speed shortcuts"). Each is compared here with the plain code, on
generated values, edge cases included.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap import properties, timestamps
from airflow_provider_clevertap.records import InvalidRow, ProfileMapper
from airflow_provider_clevertap.timestamps import convert_timestamp, datetime_to_epoch, parse_iso_timestamp

offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
zones = st.one_of(st.none(), st.just(dt.timezone.utc), offsets)
datetimes = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=zones)


class _NoOffset(dt.tzinfo):
    """A time zone that does not know its offset: the datetime counts as naive."""

    def utcoffset(self, moment):
        return None

    def dst(self, moment):
        return None


@settings(max_examples=500)
@given(st.one_of(datetimes, st.dates()))
@example(dt.datetime(2020, 1, 1, 12, tzinfo=_NoOffset()))
@example(dt.datetime(1969, 12, 31, 23, 59, 59, 999_999))  # floors to -1, not 0
@example(dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))))  # before year 1 in UTC
def test_epoch_seconds_by_subtraction_is_datetime_to_epoch(moment):
    assert timestamps.epoch_seconds(moment) == datetime_to_epoch(moment)


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


# Strings shaped like the rule's pattern, with fields in and out of range.
rule_shaped = st.builds(
    lambda year, month, day, time, seconds, fraction, offset: (
        f"{year:04d}-{month}-{day}" + ("" if time is None else f"T{time}{seconds}{fraction}{offset}")
    ),
    st.integers(0, 9999),
    _two(0, 13),
    _two(0, 32),
    st.none() | st.builds(lambda h, m: f"{h}:{m}", _two(0, 25), _two(0, 61)),
    st.just("") | _two(0, 61).map(lambda s: f":{s}"),
    st.sampled_from(["", ".1", ".12", ".123", ".1234", ".123456"]),
    st.sampled_from(["", "Z", "z"]) | st.builds(
        lambda sign, h, colon, m: f"{sign}{h}{colon}{m}",
        st.sampled_from("+-"), _two(0, 25), st.sampled_from(["", ":"]), _two(0, 99),
    ),
)  # fmt: skip
texts = st.one_of(
    rule_shaped,
    rule_shaped.map(lambda text: text.replace("T", " ")),
    rule_shaped.map(lambda text: f" {text}\n"),
    st.integers(0, 10**12).map(str),
    st.from_regex(r"\d{1,10}\.\d{1,6}", fullmatch=True),
    st.text(alphabet="0123456789-:T.+Z Wz", max_size=30),
    st.text(max_size=30),
)


@settings(max_examples=1500)
@given(texts)
@example("2025-08-04T04:29:21+05:75")  # fromisoformat reads +06:15; the rule refuses the offset
@example("2025-08-04T04:29:21.123456")  # microseconds: not for the rule
@example("2025-02-29")  # no such day
@example("2025-08-04T04:29Z")
def test_rule_seconds_is_parse_iso_timestamp(text):
    assert timestamps.rule_seconds(text) == parse_iso_timestamp(text)


def _parse_ts_text_before(text: str) -> int | None:
    """timestamps.ts_text_seconds (once properties._parse_ts_text) as it was before the benchmarks, for comparison."""
    text = text.strip()
    if timestamps._EPOCH_TEXT.fullmatch(text):
        return int(decimal.Decimal(text))
    try:
        seconds = parse_iso_timestamp(text)
    except OverflowError:
        return None
    if seconds is not None:
        return seconds
    try:
        return datetime_to_epoch(dt.datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        return None


@settings(max_examples=1500)
@given(texts)
@example("2026-01-01 03:25:37")
@example("20260101")  # epoch seconds, though fromisoformat reads it as a date
@example("2025-08-04T04:29:21+05:75")
def test_parse_ts_text_reads_what_it_read_before(text):
    assert timestamps.ts_text_seconds(text) == _parse_ts_text_before(text)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**309),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(min_size=120, max_size=200),
    st.text(alphabet="0123456789-:T.Z", max_size=26),
    rule_shaped,
    st.decimals(allow_nan=True, allow_infinity=True),
    datetimes,
    st.lists(st.text(max_size=5), max_size=3),
)


def _outcome(call):
    try:
        return ("value", call())
    except InvalidRow as error:
        return ("invalid", str(error))


@settings(max_examples=2000)
@given(value=values, convert=st.booleans(), timestamp_format=st.sampled_from(["unix", "clevertap_date"]))
@example(value="9" * 129, convert=True, timestamp_format="unix")
@example(value=math.nan, convert=True, timestamp_format="unix")
@example(value="\u0662025-01-01", convert=True, timestamp_format="unix")  # starts with a non-ASCII digit
@example(value="\u00b2" * 200, convert=True, timestamp_format="unix")  # isdigit(), but no ASCII digit
def test_convert_keeps_a_value_exactly_when_the_full_check_would(value, convert, timestamp_format):
    mapper = ProfileMapper(["identity", "p"], convert_timestamps=convert, timestamp_format=timestamp_format)
    got = _outcome(lambda: mapper.convert(("someone", value))["profileData"].get("p"))
    if value is None:
        assert got == ("value", None)
        return
    expected = _outcome(lambda: mapper._property_value("p", value))
    assert got == expected
    if isinstance(value, str) and convert and got[0] == "value":
        assert got[1] == convert_timestamp(value, timestamp_format) or got[1] == value


@given(st.one_of(st.text(max_size=10), st.integers(), st.floats(), st.none(), st.binary(max_size=3)))
@example("   ")
@example("")
def test_convert_reads_the_identity_as_read_identity_does(identity):
    mapper = ProfileMapper(["identity"])
    got = _outcome(lambda: mapper.convert((identity,))["identity"])
    assert got == _outcome(lambda: properties.read_identity(identity, "identity"))
