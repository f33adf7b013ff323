"""Rows to CleverTap event records: the mapping, and every row CleverTap could not store reported
invalid with a reason that names the column or property, never the value."""

from __future__ import annotations

import datetime as dt
import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.event_records import (
    MAX_CHARGED_ITEMS,
    MAX_EVENT_NAME_CHARS,
    MAX_EVENT_PROPERTIES,
    EventMapper,
)
from airflow_provider_clevertap.properties import InvalidRow
from tests.test_records import SCALARS, VALUES

EPOCH = 1684450725  # 2023-05-18T22:58:45Z
COLUMNS = ["order_id", "customer_id", "amount", "ordered_at"]


def mapper(columns=COLUMNS, **kwargs) -> EventMapper:
    kwargs.setdefault("identity_column", "customer_id")
    kwargs.setdefault("ts_column", "ordered_at")
    if "event_name_column" not in kwargs:
        kwargs.setdefault("event_name", "Order Placed")
    return EventMapper(columns, **kwargs)


def test_a_row_becomes_an_event_record_with_a_fixed_name():
    record = mapper().convert(("o-1", "c-1", 300, "2023-05-18T22:58:45+00:00"))
    assert record == {
        "type": "event",
        "identity": "c-1",
        "ts": EPOCH,
        "evtName": "Order Placed",
        "evtData": {"order_id": "o-1", "amount": 300},
    }


def test_the_name_comes_from_a_column_which_is_no_property():
    events = mapper(["customer_id", "kind", "ordered_at", "points"], event_name_column="kind")
    record = events.convert(("c-1", "Points Earned", EPOCH, 20))
    assert record["evtName"] == "Points Earned" and record["evtData"] == {"points": 20}


@pytest.mark.parametrize("naming", [{}, {"event_name": "A", "event_name_column": "kind"}])
def test_exactly_one_of_a_fixed_name_and_a_name_column(naming):
    with pytest.raises(ValueError, match="exactly one of event_name"):
        EventMapper(COLUMNS, identity_column="customer_id", ts_column="ordered_at", **naming)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("App Launched", "reserves"),
        ("notification viewed", "reserves"),  # reserved names compare ignoring case
        ("  ", "empty"),
        ("x" * (MAX_EVENT_NAME_CHARS + 1), "longer than 512"),
    ],
)
def test_a_fixed_name_cleverTap_cannot_take_fails_before_anything_is_sent(name, reason):
    with pytest.raises(ValueError, match=reason):
        mapper(event_name=name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [(None, "is null"), ("", "is empty"), ("App Launched", "reserves"), (7, "holds a int")],
)
def test_a_name_column_value_cleverTap_cannot_take_is_an_invalid_row(name, reason):
    events = mapper(["customer_id", "kind", "ordered_at"], event_name_column="kind")
    with pytest.raises(InvalidRow, match=reason):
        events.convert(("c-1", name, EPOCH))


@pytest.mark.parametrize(
    ("ts", "reason"),
    [(None, "is null: an event needs the time"), ("yesterday", "not an ISO-8601"), (0, "not a positive")],
)
def test_ts_is_required_and_must_be_a_time(ts, reason):
    with pytest.raises(InvalidRow, match=reason):
        mapper().convert(("o-1", "c-1", 300, ts))


def test_ts_column_is_required():
    with pytest.raises(TypeError):
        EventMapper(COLUMNS, identity_column="customer_id", event_name="A")  # type: ignore[call-arg]


def test_iso_values_and_datetimes_in_evt_data_are_converted():
    events = mapper(["customer_id", "ordered_at", "shipped", "due", "note"], timestamp_format="clevertap_date")
    moment = dt.datetime(2023, 5, 18, 22, 58, 45, tzinfo=dt.timezone.utc)
    record = events.convert(("c-1", moment, "2023-05-18T22:58:45Z", moment, "2025-08-13T02:08:40.1418726Z"))
    assert record["ts"] == EPOCH
    assert record["evtData"] == {
        "shipped": f"$D_{EPOCH}",
        "due": f"$D_{EPOCH}",
        "note": "2025-08-13T02:08:40.1418726Z",  # 7 fractional digits: not a timestamp by the rule
    }


def test_charged_carries_amount_and_items_as_a_list_or_its_json_text():
    columns = ["customer_id", "ordered_at", "Amount", "Items"]
    charged = mapper(columns, event_name="Charged")
    items = [{"Name": "Book 1", "Category": "Books", "Quantity": 1, "Price": 12.5, "Gift": None}]
    expected = [{"Name": "Book 1", "Category": "Books", "Quantity": 1, "Price": 12.5}]  # nulls left out
    for value in (items, json.dumps(items)):
        record = charged.convert(("c-1", EPOCH, 12.5, value))
        assert record["evtName"] == "Charged"
        assert record["evtData"] == {"Amount": 12.5, "Items": expected}
    assert ("evtData", "Items") in charged.output_fields()


def test_an_item_date_is_converted_like_any_property():
    charged = mapper(["customer_id", "ordered_at", "Items"], event_name="Charged")
    record = charged.convert(("c-1", EPOCH, [{"Delivered": "2023-05-18T22:58:45Z"}]))
    assert record["evtData"]["Items"] == [{"Delivered": EPOCH}]


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ("[not json", "text but not JSON"),
        ({"Name": "a"}, "a list of objects"),
        (["Book"], "a list of objects"),
        ([{"Name": "a"}] * (MAX_CHARGED_ITEMS + 1), "51 items, more than CleverTap's 50"),
        ([{"Tags": ["a", "b"]}], r"Items\[1\].Tags' is a list"),
        ([{"Size": {"w": 1}}], r"Items\[1\].Size' is a nested object"),
        ([{"k" * 121: 1}], "key that is not text of at most 120 bytes"),
        ([{"Name": "x" * 513}], "longer than 512 bytes"),
    ],
)
def test_items_cleverTap_cannot_store_make_an_invalid_row(items, reason):
    charged = mapper(["customer_id", "ordered_at", "Items"], event_name="Charged")
    with pytest.raises(InvalidRow, match=reason):
        charged.convert(("c-1", EPOCH, items))


def test_items_belong_to_charged_only():
    with pytest.raises(ValueError, match="'Items' property belongs to 'Charged' events only"):
        mapper(["customer_id", "ordered_at", "Items"], event_name="Order Placed")
    by_column = mapper(["customer_id", "kind", "ordered_at", "Items"], event_name_column="kind")
    assert by_column.convert(("c-1", "Charged", EPOCH, [{"Name": "a"}]))["evtData"] == {"Items": [{"Name": "a"}]}
    with pytest.raises(InvalidRow, match="belongs to 'Charged' events only"):
        by_column.convert(("c-1", "Refunded", EPOCH, [{"Name": "a"}]))
    assert by_column.convert(("c-1", "Refunded", EPOCH, None))["evtData"] == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["a", "b"], "is a list: event properties hold single values"),
        ({"a": 1}, "nested object"),
        (float("nan"), "not a finite number"),
        ("x" * 513, "longer than 512 bytes"),
    ],
)
def test_property_values_cleverTap_cannot_store_make_an_invalid_row(value, reason):
    with pytest.raises(InvalidRow, match=reason) as raised:
        mapper().convert(("o-1", "c-1", value, EPOCH))
    assert "'amount'" in str(raised.value)


def test_more_properties_than_cleverTaps_limit_make_an_invalid_row():
    columns = ["customer_id", "ordered_at", *(f"p{n}" for n in range(MAX_EVENT_PROPERTIES + 1))]
    events = mapper(columns)
    full = ("c-1", EPOCH, *range(MAX_EVENT_PROPERTIES + 1))
    with pytest.raises(InvalidRow, match="101 event properties, more than CleverTap's 100"):
        events.convert(full)
    # Nulls are left out, so a row with one of them null is within the limit.
    assert len(events.convert((*full[:-1], None))["evtData"]) == MAX_EVENT_PROPERTIES


def test_a_null_event_id_is_an_invalid_row_never_sent_without_it():
    events = mapper(event_id_column="order_id")
    with pytest.raises(InvalidRow, match="event_id_column 'order_id' is null"):
        events.convert((None, "c-1", 300, EPOCH))
    assert events.convert(("o-1", "c-1", 300, EPOCH))["evtData"]["order_id"] == "o-1"


def test_a_second_row_of_an_event_id_is_invalid_and_every_problem_names_the_event():
    events = mapper(event_id_column="order_id")
    assert events.convert(("o-1", "c-1", 300, EPOCH))["evtData"]["order_id"] == "o-1"
    with pytest.raises(InvalidRow, match="^event 'o-1': event id repeated in this run"):
        events.convert(("o-1", "c-1", 300, EPOCH))
    with pytest.raises(InvalidRow, match="^event 'o-2': ts column 'ordered_at' is null"):
        events.convert(("o-2", "c-2", 300, None))
    with pytest.raises(InvalidRow, match="^event 'o-2': event id repeated"):  # its first row was invalid
        events.convert(("o-2", "c-2", 300, EPOCH))
    # Another mapper, another run: o-1 is new there.
    assert mapper(event_id_column="order_id").convert(("o-1", "c-1", 300, EPOCH))["identity"] == "c-1"


@pytest.mark.parametrize(("identity", "reason"), [(None, "is null"), ("  ", "is empty")])
def test_an_event_without_identity_is_an_invalid_row(identity, reason):
    events = mapper()
    with pytest.raises(InvalidRow, match=f"identity column 'customer_id' {reason}"):
        events.convert(("o-1", identity, 300, EPOCH))
    assert events.identity_of(("o-1", identity, 300, EPOCH)) == identity


def test_object_id_identity_and_output_fields():
    events = mapper(identity_type="clevertap_id", property_columns={"amount": "Amount"})
    record = events.convert(("o-1", "__g1", 300, EPOCH))
    assert record["objectId"] == "__g1" and "identity" not in record
    assert record["evtData"] == {"Amount": 300}
    assert events.output_fields() == [("objectId",), ("ts",), ("evtName",), ("evtData", "Amount")]


# -- any row at all --------------------------------------------------------------------------------

ITEM_FIELDS = st.dictionaries(st.one_of(st.text(max_size=5), st.text(min_size=121, max_size=130)), VALUES, max_size=3)
ITEMS_VALUES = st.one_of(
    VALUES,
    st.lists(ITEM_FIELDS, max_size=3),
    st.lists(ITEM_FIELDS, min_size=MAX_CHARGED_ITEMS + 1, max_size=MAX_CHARGED_ITEMS + 1),
    st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), max_size=3).map(json.dumps),
    st.text(max_size=10).map(lambda text: "[" + text),  # text, but not JSON
)
NAMES = st.one_of(VALUES, st.sampled_from(["Charged", "App Launched", " ", "x" * (MAX_EVENT_NAME_CHARS + 1)]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event_id=VALUES,
    identity=SCALARS,
    ts=SCALARS,
    name=NAMES,
    items=ITEMS_VALUES,
    values=st.lists(VALUES, max_size=4),
    convert=st.booleans(),
    timestamp_format=st.sampled_from(["unix", "clevertap_date"]),
)
def test_any_row_becomes_an_event_record_or_an_invalid_row(
    event_id, identity, ts, name, items, values, convert, timestamp_format
):
    columns = ["event_id", "identity", "ts", "name", "items", *(f"c{n}" for n in range(len(values)))]
    events = EventMapper(
        columns,
        ts_column="ts",
        event_name_column="name",
        event_id_column="event_id",
        property_columns={"items": "Items", **{column: column for column in columns[5:]}},
        convert_timestamps=convert,
        timestamp_format=timestamp_format,
    )
    row = (event_id, identity, ts, name, items, *values)
    found = events.identity_of(row)
    assert found is None or isinstance(found, str)
    try:
        record = events.convert(row)
    except InvalidRow as reason:
        assert str(reason)
        return
    assert set(record) == {"type", "identity", "ts", "evtName", "evtData"}
    assert record["type"] == "event" and isinstance(record["identity"], str) and record["identity"].strip()
    assert type(record["ts"]) is int and record["ts"] > 0
    assert isinstance(record["evtName"], str) and record["evtName"].strip()
    if "Items" in record["evtData"]:
        assert record["evtName"] == "Charged"
        assert all(isinstance(item, dict) for item in record["evtData"]["Items"])
    # What goes on the wire: strict JSON (no NaN), encoded the way the hook encodes it.
    json.dumps(record, allow_nan=False)
    msgspec.json.encode(record)


def test_a_str_subclass_event_name_is_sent_as_a_str():
    text = type("Text", (str,), {})
    record = mapper(["customer_id", "ordered_at", "name"], event_name_column="name").convert(
        (text("c-1"), EPOCH, text("Viewed"))
    )
    assert msgspec.json.decode(msgspec.json.encode(record))["evtName"] == "Viewed"
