"""The per-record rules of ``POST /1/upload``: which records are refused, with which code and text.

Codes and texts follow CleverTap's recorded answers where they are known. Choices of this
emulator where CleverTap's behaviour is unknown (change them here):

- code 555 ("miscellaneous") for what has no code of its own: nested objects as property
  values, keys over 120 bytes, strings over 512 bytes, values that are not strings, numbers,
  booleans or arrays of strings (``null`` included), over 256 custom keys, ``DOB`` not a
  ``$D_`` date, ``MSG-*`` flags not booleans, ``profileData`` not an object, events without
  ``evtName`` or with an ``evtData`` that is not an object (the event rules are in
  ``event_validation``);
- a record carrying both ``identity`` and ``objectId`` is refused with 523, like one
  carrying neither; an ``objectId`` that is not a non-empty string gets 526;
- ``ts`` must be whole epoch seconds after 1970 and before 2286 (larger values look like
  milliseconds);
- accepted event records (``type: event``) are stored per profile, in memory only.

One record gets at most one refusal: the first rule it breaks, checking the record (type,
identifier, ``ts``) before its properties, and properties in the order they were sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from airflow_provider_clevertap.emulator.event_validation import check_event
from airflow_provider_clevertap.emulator.refusals import (
    AGE_INVALID,
    EDUCATION_INVALID,
    EMAIL_INVALID,
    EMPLOYED_INVALID,
    GENDER_INVALID,
    IDENTITY_MISSING,
    MARRIED_INVALID,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    MISCELLANEOUS,
    NOT_A_RECORD,
    OBJECT_ID_INVALID,
    PHONE_INVALID,
    REFUSE_TIMESTAMP,
    Refusal,
    utf8_length,
)
from airflow_provider_clevertap.records import STANDARD_PROPERTIES

MAX_RECORDS_PER_UPLOAD = 1000
MAX_CUSTOM_KEYS = 256
_MAX_EPOCH_SECONDS = 10**10

# A UTF-8 character takes at most 4 bytes: strings this short cannot exceed the byte limits,
# which spares encoding nearly every key and value.
_SAFE_KEY_CHARS = MAX_KEY_BYTES // 4
_SAFE_VALUE_CHARS = MAX_VALUE_BYTES // 4

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+").fullmatch
# E.164: "+", a country code (never starting with 0), at most 15 digits in all.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}").fullmatch
_DATE = re.compile(r"\$D_-?[0-9]{1,12}").fullmatch

# Fields CleverTap knows do not count against the custom-key limit: one list, the provider's.
_STANDARD_FIELDS = STANDARD_PROPERTIES


class _Rule(NamedTuple):
    accepts: Callable[[Any], bool]
    code: int
    message: str


def _is_email(value: Any) -> bool:
    return type(value) is str and _EMAIL(value) is not None


def _is_phone(value: Any) -> bool:
    return type(value) is str and _PHONE(value) is not None


def _is_date(value: Any) -> bool:
    return type(value) is str and _DATE(value) is not None


def _is_age(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and value >= 0


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _one_of(*allowed: str) -> Callable[[Any], bool]:
    choices = frozenset(allowed)
    return lambda value: type(value) is str and value in choices


def _field_message(what: str) -> str:
    return f"Profile data is incorrect. {what} is not valid."


SUBSCRIPTION_FLAGS = ("MSG-email", "MSG-push", "MSG-sms", "MSG-whatsapp", "MSG-dndPhone", "MSG-dndEmail")

_RESERVED: dict[str, _Rule] = {
    "Email": _Rule(_is_email, EMAIL_INVALID, _field_message("Email")),
    "Phone": _Rule(_is_phone, PHONE_INVALID, _field_message("Phone")),
    "Gender": _Rule(_one_of("M", "F"), GENDER_INVALID, _field_message("Gender")),
    "Employed": _Rule(_one_of("Y", "N"), EMPLOYED_INVALID, _field_message("Employed")),
    "Education": _Rule(_one_of("School", "College", "Graduate"), EDUCATION_INVALID, _field_message("Education")),
    "Married": _Rule(_one_of("Y", "N"), MARRIED_INVALID, _field_message("Married")),
    "Age": _Rule(_is_age, AGE_INVALID, _field_message("Age")),
    "DOB": _Rule(_is_date, MISCELLANEOUS, _field_message("DOB")),
    **{flag: _Rule(_is_bool, MISCELLANEOUS, _field_message(flag)) for flag in SUBSCRIPTION_FLAGS},
}

_REFUSE_NOT_A_RECORD = Refusal(NOT_A_RECORD, "Record type must be either profile or event.", None)
_REFUSE_NO_IDENTITY = Refusal(IDENTITY_MISSING, "Identity or objectId is missing.", None)
_REFUSE_TWO_IDENTIFIERS = Refusal(IDENTITY_MISSING, "Record must carry exactly one of identity and objectId.", None)
_REFUSE_OBJECT_ID = Refusal(OBJECT_ID_INVALID, "objectId is not valid.", None)
_REFUSE_PROFILE_DATA = Refusal(MISCELLANEOUS, "Profile data is incorrect. profileData must be an object.", None)
_REFUSE_TOO_MANY_KEYS = Refusal(
    MISCELLANEOUS, f"Profile data is incorrect. At most {MAX_CUSTOM_KEYS} custom keys are allowed.", None
)
_KEY_TOO_LONG = f"Profile data is incorrect. Keys are limited to {MAX_KEY_BYTES} bytes."
_VALUE_TOO_LONG = f"Profile data is incorrect. Values are limited to {MAX_VALUE_BYTES} bytes."
_NESTED_VALUE = "Profile data is incorrect. Nested objects are not supported as property values."
_BAD_VALUE = "Profile data is incorrect. Values must be strings, numbers, booleans or arrays of strings."


@dataclass
class BatchOutcome:
    """The verdict on one upload batch.

    :param profiles: the accepted profile records, in batch order.
    :param events: the accepted event records, in batch order.
    :param unprocessed: CleverTap's ``unprocessed`` entries for the refused records.
    """

    profiles: list[dict[str, Any]]
    events: list[dict[str, Any]]
    unprocessed: list[dict[str, Any]]

    @property
    def processed(self) -> int:
        return len(self.profiles) + len(self.events)


def validate_batch(records: list[Any], discarded_events: tuple[str, ...] = ()) -> BatchOutcome:
    """Check every record of an upload; the caller has already enforced the batch size.

    ``discarded_events``: the event names the account discards.
    """
    profiles: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    unprocessed: list[dict[str, Any]] = []
    for position, record in enumerate(records, 1):
        refusal = check_record(record, discarded_events)
        if refusal is not None:
            unprocessed.append(refusal_entry(record, refusal, position))
        elif record["type"] == "profile":
            profiles.append(record)
        else:
            events.append(record)
    return BatchOutcome(profiles, events, unprocessed)


def check_record(record: Any, discarded_events: tuple[str, ...] = ()) -> Refusal | None:
    """Return why CleverTap would refuse ``record``, or None when it accepts it."""
    if type(record) is not dict:
        return _REFUSE_NOT_A_RECORD
    kind = record.get("type")
    if kind != "profile" and kind != "event":
        return _REFUSE_NOT_A_RECORD
    identity = record.get("identity")
    object_id = record.get("objectId")
    if identity is None:
        if object_id is None:
            return _REFUSE_NO_IDENTITY
        if type(object_id) is not str or not object_id.strip():
            return _REFUSE_OBJECT_ID
    elif object_id is not None:
        return _REFUSE_TWO_IDENTIFIERS
    elif not (type(identity) is int or (type(identity) is str and identity.strip())):
        return _REFUSE_NO_IDENTITY
    if "ts" in record:
        ts = record["ts"]
        if type(ts) is not int or not 0 < ts < _MAX_EPOCH_SECONDS:
            return REFUSE_TIMESTAMP
    if kind == "event":
        return check_event(record, discarded_events)
    profile_data = record.get("profileData")
    if profile_data is None:
        return None
    if type(profile_data) is not dict:
        return _REFUSE_PROFILE_DATA
    return _check_profile_data(profile_data)


def _check_profile_data(profile_data: dict[str, Any]) -> Refusal | None:
    if len(profile_data) > MAX_CUSTOM_KEYS and (
        sum(1 for key in profile_data if key not in _STANDARD_FIELDS) > MAX_CUSTOM_KEYS
    ):
        return _REFUSE_TOO_MANY_KEYS
    for key, value in profile_data.items():
        if len(key) > _SAFE_KEY_CHARS and utf8_length(key) > MAX_KEY_BYTES:
            return Refusal(MISCELLANEOUS, _KEY_TOO_LONG, key)
        kind = type(value)
        if kind is str:
            if len(value) > _SAFE_VALUE_CHARS and utf8_length(value) > MAX_VALUE_BYTES:
                return Refusal(MISCELLANEOUS, _VALUE_TOO_LONG, key)
        elif kind is list:
            for item in value:
                if type(item) is not str:
                    nested = type(item) is dict or type(item) is list
                    return Refusal(MISCELLANEOUS, _NESTED_VALUE if nested else _BAD_VALUE, key)
                if len(item) > _SAFE_VALUE_CHARS and utf8_length(item) > MAX_VALUE_BYTES:
                    return Refusal(MISCELLANEOUS, _VALUE_TOO_LONG, key)
        elif kind is dict:
            return Refusal(MISCELLANEOUS, _NESTED_VALUE, key)
        elif kind is not int and kind is not float and kind is not bool:
            return Refusal(MISCELLANEOUS, _BAD_VALUE, key)
        rule = _RESERVED.get(key)
        if rule is not None and not rule.accepts(value):
            return Refusal(rule.code, rule.message, key)
    return None


def refusal_entry(record: Any, refusal: Refusal, position: int) -> dict[str, Any]:
    """One ``unprocessed`` entry, in CleverTap's shape, for the record at 1-based ``position``."""
    # Recorded answers run a property message straight into the position ("...valid.Skipped")
    # but put a space after record-level messages: kept, so clients must parse both.
    separator = "" if refusal.field is not None else " "
    return {
        "status": "fail",
        "code": refusal.code,
        "error": f"{refusal.message}{separator}Skipped record number : {position}",
        "record": _echo(record, refusal.field),
    }


def _echo(record: Any, field: str | None) -> dict[str, Any]:
    """The record as CleverTap echoes it: normalised, so it cannot be matched back by value.

    Like the recorded answers, a record refused as a whole is echoed as ``{}``; otherwise the
    identity comes back as a string, the phone without its ``+``, and the property at fault
    is left out.
    """
    if field is None:
        return {}
    echo: dict[str, Any] = {}
    if record.get("identity") is not None:
        echo["identity"] = str(record["identity"])
    else:
        echo["objectId"] = record["objectId"]
    if "ts" in record:
        echo["ts"] = record["ts"]
    echo["type"] = record["type"]
    echo["profileData"] = {
        key: value[1:] if key == "Phone" and type(value) is str and value.startswith("+") else value
        for key, value in record["profileData"].items()
        if key != field
    }
    return echo
