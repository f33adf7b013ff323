"""How a row becomes a CleverTap event record, or is reported invalid with a reason.

A row becomes ``{"type": "event", "identity": ..., "ts": ..., "evtName": ..., "evtData": {...}}``.
The value rules are the profiles' (``properties``); what is particular to events is here, every
limit in one constant, each with where it came from in ``docs/events.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from airflow_provider_clevertap.properties import (
    MAX_KEY_BYTES,
    UNREADABLE,
    UPLOAD_ID_KEYS,
    InvalidRow,
    MappingOptions,
    PropertyMapper,
    find_column,
    key_too_long,
    text_of,
    unreadable,
)
from airflow_provider_clevertap.seen_ids import SeenIds

if TYPE_CHECKING:
    from typing_extensions import Unpack

# CleverTap's event limits (docs/events.md says where each comes from).
# The SDKs' validators trim names and values over 512 characters; what the server does with a
# longer event name is unconfirmed: such a row is reported invalid rather than sent.
MAX_EVENT_NAME_CHARS = 512
# The Upload Events page: "at most 100 properties per event by default, configurable per account".
MAX_EVENT_PROPERTIES = 100
# The SDKs refuse a Charged event with more items (their error 522); the server's limit is unconfirmed.
MAX_CHARGED_ITEMS = 50
CHARGED = "Charged"  # CleverTap's purchase event: Amount plus an Items list of objects
ITEMS = "Items"  # the one property whose value is nested (Charged only)
# System events the SDKs record themselves and refuse to send (error 513), compared ignoring case.
RESERVED_EVENT_NAMES = frozenset(
    name.lower()
    for name in (
        "Stayed",
        "Notification Clicked",
        "Notification Viewed",
        "UTM Visited",
        "Notification Sent",
        "App Launched",
        "wzrk_d",
        "App Uninstalled",
        "Notification Bounced",
        "Geocluster Entered",
        "Geocluster Exited",
        "SCOutgoing",
        "SCIncoming",
        "SCEnd",
        "SCCampaignOptOut",
    )
)
# The state table keys an event by its id's text in a VARCHAR(1024) (state.table.KEY_LENGTH).
MAX_EVENT_ID_CHARS = 1024

_decode_json = msgspec.json.Decoder().decode


def event_name_problem(name: str) -> str | None:
    """Why CleverTap cannot take ``name`` as an event name, or None when it can."""
    if not name.strip():
        return "is empty"
    if len(name) > MAX_EVENT_NAME_CHARS:
        return f"is longer than {MAX_EVENT_NAME_CHARS} characters"
    if name.strip().lower() in RESERVED_EVENT_NAMES:
        return f"is {name.strip()!r}, a system event CleverTap records itself and reserves"
    return None


class EventMapper(PropertyMapper):
    """Turns rows (tuples in ``columns`` order) into CleverTap event records.

    :param columns: the column names, in row order.
    :param identity_column: the column holding the identity of the user the event belongs to.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
    :param ts_column: the column holding the event's time (required: a null is an invalid row).
    :param event_name: the name of every event; or
    :param event_name_column: the column holding each row's event name (exactly one of the two).
    :param event_id_column: the column holding each event's id: a null is an invalid row (the
        event could not be sent only once).
    :param property_columns: None for every column not used otherwise (the event id column is
        kept: CleverTap has no field for it); a list of columns; or a mapping of column to
        property name. A property named ``Items`` is the list of a ``Charged`` event's items.
    :param convert_timestamps: apply the Convert Timestamps rule to ``evtData`` values.
    :param timestamp_format: ``unix`` or ``clevertap_date`` for converted values.
    """

    def __init__(
        self,
        columns: Sequence[str],
        *,
        ts_column: str,
        event_name: str | None = None,
        event_name_column: str | None = None,
        event_id_column: str | None = None,
        **options: Unpack[MappingOptions],
    ) -> None:
        check_event_naming(event_name, event_name_column)
        super().__init__(columns, ts_column=ts_column, skipped_columns=(event_name_column,), **options)
        self.event_name = event_name
        self.event_name_column = event_name_column
        self.event_id_column = event_id_column
        self._name_index = (
            None if event_name_column is None else find_column(columns, event_name_column, "event_name_column")
        )
        self._id_index = None if event_id_column is None else find_column(columns, event_id_column, "event_id_column")
        self._ids_seen = SeenIds()
        items = [index for index, name in self._properties if name == ITEMS]
        self._items_index = items[0] if items else None
        self._properties = [(index, name) for index, name in self._properties if name != ITEMS]
        if event_name is not None and self._items_index is not None and event_name != CHARGED:
            raise ValueError(f"an {ITEMS!r} property belongs to {CHARGED!r} events only, not to {event_name!r}")
        self._may_exceed_property_limit = len(self._properties) + len(items) > MAX_EVENT_PROPERTIES

    def output_fields(self) -> list[tuple[str, ...]]:
        """The fields records may carry, as paths (``("evtData", "Amount")``), for lineage."""
        items = [("evtData", ITEMS)] if self._items_index is not None else []
        properties = [("evtData", name) for _, name in self._properties]
        return [(UPLOAD_ID_KEYS[self.identity_type],), ("ts",), ("evtName",), *properties, *items]

    def convert(self, row: Sequence[Any]) -> dict[str, Any]:
        """Return the row's event record, or raise InvalidRow saying why it cannot be sent, naming
        the event by its id where it has one. A second row of an event id is never sent."""
        if self._id_index is None:
            return self._record(row)
        event_id = self._read_event_id(row[self._id_index])
        try:
            if not self._ids_seen.add(event_id):
                raise InvalidRow("event id repeated in this run: only its first row is sent")
            return self._record(row)
        except InvalidRow as reason:
            raise InvalidRow(f"event {event_id!r}: {reason}") from None

    def _record(self, row: Sequence[Any]) -> dict[str, Any]:
        identity = self._identity(row)
        ts = row[self._ts_index]  # type: ignore[index]  # ts_column is required
        if ts is None:
            raise InvalidRow(f"ts column {self.ts_column!r} is null: an event needs the time it happened")
        name = self.event_name if self._name_index is None else self._read_name(row[self._name_index])
        data = self._property_dict(row)
        if self._items_index is not None and row[self._items_index] is not None:
            if name != CHARGED:
                raise InvalidRow(f"property {ITEMS!r} belongs to {CHARGED!r} events only")
            data[ITEMS] = self._items(row[self._items_index])
        if self._may_exceed_property_limit and len(data) > MAX_EVENT_PROPERTIES:
            raise InvalidRow(f"{len(data)} event properties, more than CleverTap's {MAX_EVENT_PROPERTIES}")
        return {
            "type": "event",
            UPLOAD_ID_KEYS[self.identity_type]: identity,
            "ts": self._read_ts(ts),
            "evtName": name,
            "evtData": data,
        }

    def _read_event_id(self, value: Any) -> str:
        column = self.event_id_column
        if value is None:
            raise InvalidRow(f"event_id_column {column!r} is null: the event cannot be sent once without its id")
        if value is UNREADABLE:
            raise unreadable(column)
        text = text_of(value)
        if text is None or len(text) > MAX_EVENT_ID_CHARS:
            raise InvalidRow(f"event_id_column {column!r} is longer than {MAX_EVENT_ID_CHARS} characters")
        return text

    def _read_name(self, value: Any) -> str:
        column = self.event_name_column
        if value is None:
            raise InvalidRow(f"event_name_column {column!r} is null")
        if value is UNREADABLE:
            raise unreadable(column)
        if not isinstance(value, str):
            raise InvalidRow(f"event_name_column {column!r} holds a {type(value).__name__}, not a name")
        problem = event_name_problem(value)
        if problem is not None:
            raise InvalidRow(f"event_name_column {column!r} {problem}")
        return str(value)  # a str subclass (an enum's value, say) becomes a str

    def _items(self, value: Any) -> list[dict[str, Any]]:
        """Charged's items: a list of objects of single values (or its JSON text: SQLite has no JSON type)."""
        if isinstance(value, (str, bytes)):
            try:
                value = _decode_json(value)
            except msgspec.DecodeError:
                raise InvalidRow(f"property {ITEMS!r} is text but not JSON") from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, Mapping) for item in value):
            raise InvalidRow(f"property {ITEMS!r} must be a list of objects")
        if len(value) > MAX_CHARGED_ITEMS:
            raise InvalidRow(f"property {ITEMS!r} holds {len(value)} items, more than CleverTap's {MAX_CHARGED_ITEMS}")
        items = []
        for position, item in enumerate(value, 1):
            fields: dict[str, Any] = {}
            for key, field in item.items():
                where = f"{ITEMS}[{position}]"
                if not isinstance(key, str) or key_too_long(key):
                    raise InvalidRow(f"property {where} has a key that is not text of at most {MAX_KEY_BYTES} bytes")
                if field is not None:
                    fields[key] = self._property_value(f"{where}.{key}", field)
            items.append(fields)
        return items

    def _uncommon_value(self, name: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            raise InvalidRow(f"property {name!r} is a list: event properties hold single values ({ITEMS!r} aside)")
        return super()._uncommon_value(name, value)


def check_event_naming(event_name: str | None, event_name_column: str | None) -> None:
    """Exactly one of a fixed name (one CleverTap can take) and a column; a ValueError otherwise."""
    if (event_name is None) == (event_name_column is None):
        raise ValueError("Give exactly one of event_name (every row's event) and event_name_column")
    if event_name is not None:
        problem = event_name_problem(event_name) if isinstance(event_name, str) else "is not a string"
        if problem is not None:
            raise ValueError(f"event_name {problem}")
