"""The per-record rules of event records in ``POST /1/upload``: which are refused, and why.

The limits are the provider's own constants (``event_records``, where docs/events.md says where
each comes from): one place for each, so the emulator and the operator cannot drift apart. Choices
of this emulator where CleverTap's behaviour is unknown (change them here):

- every refusal of an event gets code 555 ("miscellaneous"), but a missing or invalid ``ts``
  gets 525 as for profiles: CleverTap's docs list no event-specific codes;
- an event whose name the account discards (``discarded_events``) is refused with 555;
- an event needs ``ts`` (the Upload Events page marks it required);
- a reserved event name is refused, compared ignoring case, as the SDKs refuse it;
- ``Items`` is allowed on ``Charged`` only: a list of at most 50 objects of single values.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.emulator.refusals import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    MISCELLANEOUS,
    REFUSE_TIMESTAMP,
    Refusal,
    utf8_length,
)
from airflow_provider_clevertap.event_records import (
    CHARGED,
    ITEMS,
    MAX_CHARGED_ITEMS,
    MAX_EVENT_NAME_CHARS,
    MAX_EVENT_PROPERTIES,
    RESERVED_EVENT_NAMES,
)

_REFUSE_EVENT_NAME = Refusal(MISCELLANEOUS, "Event name is missing.", None)
_REFUSE_LONG_NAME = Refusal(MISCELLANEOUS, f"Event name exceeds {MAX_EVENT_NAME_CHARS} characters.", None)
_REFUSE_RESERVED_NAME = Refusal(MISCELLANEOUS, "Event name is restricted: it is a system event.", None)
_REFUSE_DISCARDED = Refusal(MISCELLANEOUS, "Event name is discarded for this account.", None)
_REFUSE_EVENT_DATA = Refusal(MISCELLANEOUS, "Event data must be an object.", None)
_REFUSE_TOO_MANY = Refusal(MISCELLANEOUS, f"Event data has more than {MAX_EVENT_PROPERTIES} properties.", None)
_REFUSE_ITEMS = Refusal(MISCELLANEOUS, f"{ITEMS} are allowed in {CHARGED} events only, as a list of objects.", None)
_REFUSE_ITEM_COUNT = Refusal(MISCELLANEOUS, f"{CHARGED} event contained more than {MAX_CHARGED_ITEMS} items.", None)
_REFUSE_KEY = Refusal(MISCELLANEOUS, f"Event data is incorrect. Keys are limited to {MAX_KEY_BYTES} bytes.", None)
_REFUSE_VALUE = Refusal(
    MISCELLANEOUS,
    f"Event data is incorrect. Values must be strings of at most {MAX_VALUE_BYTES} bytes, numbers or booleans.",
    None,
)


def check_event(record: dict[str, Any], discarded: tuple[str, ...] = ()) -> Refusal | None:
    """Why CleverTap would refuse this event record (type and identifier already checked), or None.

    ``discarded``: the event names the account discards.
    """
    if "ts" not in record:
        return REFUSE_TIMESTAMP
    name = record.get("evtName")
    if type(name) is not str or not name.strip():
        return _REFUSE_EVENT_NAME
    if len(name) > MAX_EVENT_NAME_CHARS:
        return _REFUSE_LONG_NAME
    if name.strip().lower() in RESERVED_EVENT_NAMES:
        return _REFUSE_RESERVED_NAME
    if name in discarded:
        return _REFUSE_DISCARDED
    data = record.get("evtData", {})
    if type(data) is not dict:
        return _REFUSE_EVENT_DATA
    if len(data) > MAX_EVENT_PROPERTIES:
        return _REFUSE_TOO_MANY
    for key, value in data.items():
        if utf8_length(key) > MAX_KEY_BYTES:
            return _REFUSE_KEY
        if key == ITEMS and type(value) is list:
            refusal = _check_items(name, value)
            if refusal is not None:
                return refusal
        elif not _is_single_value(value):
            return _REFUSE_VALUE
    return None


def _check_items(name: str, items: list[Any]) -> Refusal | None:
    if name != CHARGED or not all(type(item) is dict for item in items):
        return _REFUSE_ITEMS
    if len(items) > MAX_CHARGED_ITEMS:
        return _REFUSE_ITEM_COUNT
    for item in items:
        for key, value in item.items():
            if utf8_length(key) > MAX_KEY_BYTES:
                return _REFUSE_KEY
            if not _is_single_value(value):
                return _REFUSE_VALUE
    return None


def _is_single_value(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return utf8_length(value) <= MAX_VALUE_BYTES
    return kind is int or kind is float or kind is bool
