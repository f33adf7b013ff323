"""Rows to CleverTap records: ProfileMapper, IdMapper and their checks, including a property-based
test that no value whatever can crash a sync or slip past CleverTap's limits."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.properties import UNREADABLE
from airflow_provider_clevertap.records import (
    MAX_CUSTOM_PROPERTIES,
    MAX_KEY_BYTES,
    MAX_STRING_BYTES,
    STANDARD_PROPERTIES,
    IdMapper,
    InvalidRow,
    ProfileMapper,
    find_column,
    read_identity,
)

EPOCH = 1684450725  # 2023-05-18T22:58:45Z


# -- identities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("user-1", "user-1"), (42, "42"), (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"), (Decimal("7"), "7")],
)
def test_identity_is_a_string(value, expected):
    assert read_identity(value, "id") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "null"),
        ("", "empty"),
        (" \t", "empty"),
        (b"\x01", "binary"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
    ],
)
def test_a_missing_or_unusable_identity_is_invalid(value, reason):
    with pytest.raises(InvalidRow, match=reason) as error:
        read_identity(value, "user_id")
    assert "'user_id'" in str(error.value)


def test_find_column_lists_what_there_is():
    assert find_column(["a", "b"], "b", "ts_column") == 1
    with pytest.raises(ValueError, match=r"ts_column 'c' is not among the columns the query returns: a, b"):
        find_column(["a", "b"], "c", "ts_column")
    with pytest.raises(ValueError, match=r"\(none\)"):
        find_column([], "c", "identity_column")


# -- ProfileMapper ------------------------------------------------------------------------------


def test_profile_mapper_builds_a_record_in_column_order():
    mapper = ProfileMapper(["id", "b", "ts", "a"], identity_column="id", ts_column="ts")
    record = mapper.convert((5, "x", EPOCH, None))
    assert record == {"type": "profile", "identity": "5", "ts": EPOCH, "profileData": {"b": "x"}}
    assert mapper.identity_of((5, "x", EPOCH, None)) == "5"
    assert mapper.identity_of((None, "x", EPOCH, None)) is None


def test_profile_mapper_checks_its_options():
    with pytest.raises(ValueError, match="identity_type"):
        ProfileMapper(["identity"], identity_type="objectId")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timestamp_format"):
        ProfileMapper(["identity"], timestamp_format="millis")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a string"):
        ProfileMapper(["identity", "plan"], property_columns="plan")


def test_property_name_limit_is_in_bytes():
    ProfileMapper(["identity", "é" * 60])  # 120 bytes: fine
    with pytest.raises(ValueError, match="120 bytes"):
        ProfileMapper(["identity", "é" * 61])
    with pytest.raises(ValueError, match="120 bytes"):
        ProfileMapper(["identity", "plan"], property_columns={"plan": "x" * 121})


def test_string_value_limit_is_in_bytes():
    mapper = ProfileMapper(["identity", "bio"])
    assert mapper.convert(("u", "€" * 170))["profileData"] == {"bio": "€" * 170}  # 510 bytes
    with pytest.raises(InvalidRow, match="512 bytes"):
        mapper.convert(("u", "€" * 171))  # 171 characters, 513 bytes
    assert mapper.convert(("u", "x" * 512))["profileData"] == {"bio": "x" * 512}
    with pytest.raises(InvalidRow, match="512 bytes"):
        mapper.convert(("u", "x" * 513))


def test_property_count_limit_counts_non_null_values():
    columns = ["identity", *(f"p{n}" for n in range(300))]
    mapper = ProfileMapper(columns)
    assert len(mapper.convert(("u", *range(256), *[None] * 44))["profileData"]) == 256
    with pytest.raises(InvalidRow, match="257 custom properties, more than CleverTap's 256"):
        mapper.convert(("u", *range(257), *[None] * 43))


def test_standard_fields_do_not_count_against_the_custom_property_limit():
    standard = ["Name", "Email", "Phone", "Gender", "MSG-email"]
    columns = ["identity", *standard, *(f"p{n}" for n in range(257))]
    mapper = ProfileMapper(columns)
    row = ("u", "Ada", "ada@example.com", "+14155550100", "F", True, *range(256), None)

    assert len(mapper.convert(row)["profileData"]) == 261
    with pytest.raises(InvalidRow, match="257 custom properties"):
        mapper.convert((*row[:-1], 256))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("2.50"), 2.5),
        (Decimal("10"), 10),
        (Decimal("1E+2"), 100),
        (True, True),
        (False, False),
        (0, 0),
        (("a", "b"), ["a", "b"]),
        ([], []),
        (uuid.UUID(int=255), "00000000-0000-0000-0000-0000000000ff"),
    ],
    ids=repr,
)
def test_property_values(value, expected):
    converted = ProfileMapper(["identity", "p"]).convert(("u", value))["profileData"]["p"]
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"a": 1}, "nested object"),
        ([1, 2], "more than strings"),
        (["ok", None], "more than strings"),
        ({"a"}, "set"),
        (b"abc", "bytes"),
        (dt.time(10, 30), "time"),
        (float("nan"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (Decimal("sNaN"), "finite"),
        (10**400, "too large"),  # Python's JSON encoders refuse ints past 4300 digits; no reader holds these
        (Decimal("1E+400"), "too large"),
    ],
    ids=repr,
)
def test_values_clevertap_cannot_store_make_the_row_invalid(value, words):
    with pytest.raises(InvalidRow, match=words) as error:
        ProfileMapper(["identity", "p"]).convert(("u", value))
    assert "'p'" in str(error.value)


@pytest.mark.parametrize(
    "value",
    [
        "2023-05-18T22:58:45Z",
        "2023-05-18T22:58:45.451Z",
        "2023-05-18T22:58:45.123456+00:00",
        "2023-05-18 22:58:45",
        "2023-05-18 22:58:45+00",
        " 1684450725 ",
        "1684450725.75",
        EPOCH,
        EPOCH + 0.5,
        Decimal("1684450725.1"),
        dt.datetime(2023, 5, 18, 22, 58, 45),
        dt.datetime(2023, 5, 18, 16, 58, 45, tzinfo=dt.timezone(dt.timedelta(hours=-6))),
    ],
    ids=repr,
)
def test_ts_forms(value):
    record = ProfileMapper(["identity", "ts"], ts_column="ts").convert(("u", value))
    assert record["ts"] == EPOCH
    assert record["profileData"] == {}  # the ts column is not a property


@pytest.mark.parametrize(
    "value",
    ["", "soon", "2023-02-30", "-5", 0, -1, Decimal("NaN"), Decimal("sNaN"), math.inf, False, [EPOCH]],
    ids=repr,
)
def test_bad_ts_makes_the_row_invalid(value):
    with pytest.raises(InvalidRow, match="'ts'"):
        ProfileMapper(["identity", "ts"], ts_column="ts").convert(("u", value))


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(1969, 12, 31, 23, 59, 59),
        dt.datetime(1970, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.date(1900, 1, 1),
        "1969-07-20T20:17:40Z",
        "1969-12-31",
        dt.datetime(1970, 1, 1),
    ],
    ids=repr,
)
def test_a_ts_before_1970_is_invalid(value):
    with pytest.raises(InvalidRow, match="ts column 'ts' is not a positive epoch time"):
        ProfileMapper(["identity", "ts"], ts_column="ts").convert(("u", value))


def test_a_ts_in_milliseconds_is_invalid_with_a_hint():
    with pytest.raises(InvalidRow, match="milliseconds"):
        ProfileMapper(["identity", "ts"], ts_column="ts").convert(("u", EPOCH * 1000))
    with pytest.raises(InvalidRow, match="'ts'"):  # its UTC instant is in the year 10000
        ProfileMapper(["identity", "ts"], ts_column="ts").convert(
            ("u", dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-1))))
        )


def test_null_ts_is_left_out():
    assert "ts" not in ProfileMapper(["identity", "ts"], ts_column="ts").convert(("u", None))


def test_id_mapper():
    mapper = IdMapper(["guid", "x"], id_column="guid")
    assert mapper.convert(("__abc", 1)) == "__abc"
    assert mapper.convert((17, 1)) == "17"
    assert mapper.identity_of((None, 1)) is None
    with pytest.raises(InvalidRow, match="null"):
        mapper.convert((None, 1))
    with pytest.raises(ValueError, match="guid, x"):
        IdMapper(["guid", "x"], id_column="identity")


# -- any value at all ----------------------------------------------------------------------------

OFFSETS = st.sampled_from(
    [None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12))]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**5000), 2**64, EPOCH * 1000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(min_size=120, max_size=300),
    st.from_regex(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?)?", fullmatch=True),
    st.binary(max_size=4),
    st.datetimes(timezones=OFFSETS),
    st.builds(
        lambda moment, tz: moment.replace(tzinfo=tz), st.sampled_from([dt.datetime.min, dt.datetime.max]), OFFSETS
    ),
    st.dates(),
    st.times(),
    st.uuids(),
    st.just(UNREADABLE),  # a value the driver could not read (PostgreSQL's infinite dates)
    st.builds(type("Text", (str,), {}), st.text(max_size=5)),
    st.builds(bytearray, st.binary(max_size=3)),
    st.builds(memoryview, st.binary(max_size=3)),
    st.timedeltas(),
    st.complex_numbers(),
    st.builds(object),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(st.text(max_size=10), st.text(min_size=500, max_size=600), st.integers()), max_size=3),
    st.tuples(st.text(max_size=5)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.frozensets(st.text(max_size=3), max_size=2),
)


def _check_record(record: dict[str, Any], identity_type: str) -> None:
    key = {"identity": "identity", "clevertap_id": "objectId"}[identity_type]  # as CleverTap names them
    assert record["type"] == "profile"
    assert isinstance(record[key], str) and record[key].strip()
    assert set(record) <= {"type", key, "ts", "profileData"}
    if "ts" in record:
        assert type(record["ts"]) is int and record["ts"] > 0
    profile = record["profileData"]
    assert len(set(profile) - STANDARD_PROPERTIES) <= MAX_CUSTOM_PROPERTIES
    for key, value in profile.items():
        assert len(key.encode()) <= MAX_KEY_BYTES
        assert value is not None
        if isinstance(value, str):
            assert len(value.encode()) <= MAX_STRING_BYTES
        elif isinstance(value, list):
            assert all(isinstance(item, str) and len(item.encode()) <= MAX_STRING_BYTES for item in value)
        elif isinstance(value, float):
            assert math.isfinite(value)
        else:
            assert type(value) in (bool, int), type(value)
    # What goes on the wire: strict JSON (no NaN), encoded the way the hook encodes it.
    json.dumps(record, allow_nan=False)
    msgspec.json.encode(record)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    identity=SCALARS,
    ts=SCALARS,
    values=st.lists(VALUES, min_size=0, max_size=6),
    convert=st.booleans(),
    timestamp_format=st.sampled_from(["unix", "clevertap_date"]),
    identity_type=st.sampled_from(["identity", "clevertap_id"]),
)
def test_any_row_becomes_a_valid_record_or_an_invalid_row(
    identity, ts, values, convert, timestamp_format, identity_type
):
    columns = ["id", "ts", *(f"c{n}" for n in range(len(values)))]
    mapper = ProfileMapper(
        columns,
        identity_column="id",
        identity_type=identity_type,
        ts_column="ts",
        convert_timestamps=convert,
        timestamp_format=timestamp_format,
    )
    try:
        record = mapper.convert((identity, ts, *values))
    except InvalidRow as reason:
        assert str(reason)
        return
    _check_record(record, identity_type)


@settings(max_examples=300, deadline=None)
@given(identity=VALUES, other=VALUES)
def test_any_id_becomes_an_id_to_delete_or_an_invalid_row(identity, other):
    mapper = IdMapper(["id", "other"], id_column="id")
    found = mapper.identity_of((identity, other))
    assert found is None or isinstance(found, str)
    try:
        deleted = mapper.convert((identity, other))
    except InvalidRow as reason:
        assert "'id'" in str(reason)
        return
    assert isinstance(deleted, str) and deleted.strip()


def test_a_str_subclass_identity_is_sent_as_a_str():
    text = type("Text", (str,), {})
    record = ProfileMapper(["id", "p"], identity_column="id").convert((text("abc"), text("v")))
    assert msgspec.json.encode(record) == b'{"type":"profile","identity":"abc","profileData":{"p":"v"}}'
