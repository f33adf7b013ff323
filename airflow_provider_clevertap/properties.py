"""The rules every CleverTap record's values follow, profiles and events alike.

Property names up to 120 bytes and string values up to 512 bytes (CleverTap's limits for both
profile and event properties), values JSON can carry (no NaN, no infinity), the ``ts`` of a
record, the Convert Timestamps rule applied to values, and the identity of a row. A value that
breaks a rule raises :class:`InvalidRow`, whose message names the column or property, never the
value: property values are personal data.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import math
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from airflow_provider_clevertap.timestamps import (
    TIMESTAMP_FORMATS,
    TimestampFormat,
    epoch_seconds,
    format_epoch,
    rule_seconds,
    ts_text_seconds,
)

_log = logging.getLogger(__name__)

MAX_KEY_BYTES = 120
MAX_STRING_BYTES = 512
MAX_TS = 253402300799  # 9999-12-31T23:59:59Z: a larger ts is a mistake (often epoch milliseconds)
_MAX_NUMBER = sys.float_info.max  # a bigger number is no JSON number any reader can hold
_isfinite = math.isfinite
IDENTITY_TYPES = ("identity", "clevertap_id")
# The key of an upload record's id, by identity_type: CleverTap calls its own id objectId there.
UPLOAD_ID_KEYS = {"identity": "identity", "clevertap_id": "objectId"}

PropertyColumns = Sequence[str] | Mapping[str, str] | None


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    """Raise a ValueError naming the allowed values when ``value`` is not one of them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def check_mapping_choices(identity_type: Any, timestamp_format: Any) -> None:
    """Raise a ValueError when ``identity_type`` or ``timestamp_format`` is not one CleverTap takes."""
    check_choice("identity_type", identity_type, IDENTITY_TYPES)
    check_choice("timestamp_format", timestamp_format, TIMESTAMP_FORMATS)


class InvalidRow(ValueError):
    """A row that cannot become a CleverTap record; the message says why, never with its values."""


class Unreadable:
    """What a source reads a value as when its driver cannot make it a Python object (PostgreSQL's
    infinite or BC dates, say): a row using it is invalid, the others go on. The value's text is
    not kept (the driver's error quotes it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE = Unreadable()


def unreadable(column: str | None) -> InvalidRow:
    """The reason a row is invalid when ``column`` holds an ``UNREADABLE`` value."""
    return InvalidRow(f"column {column!r} holds a value Python cannot represent (an infinite or BC date, say)")


def _is_finite(value: float | int | decimal.Decimal) -> bool:
    # math.isfinite() raises on a signalling NaN Decimal, and on an int too big for a float.
    if isinstance(value, int):
        return True
    return value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)


def text_of(value: Any) -> str | None:
    """``str(value)``, or None for an int past Python's 4300-digit conversion limit or ``UNREADABLE``."""
    if value is UNREADABLE:
        return None
    try:
        return str(value)
    except ValueError:
        return None


_SHORT_TEXT = MAX_STRING_BYTES // 4  # a string this short cannot be over the limit in UTF-8


def too_long(text: str) -> bool:
    """Whether ``text`` is over CleverTap's ``MAX_STRING_BYTES`` in UTF-8."""
    # A character is at most 4 UTF-8 bytes: only long strings need encoding to be measured.
    return len(text) * 4 > MAX_STRING_BYTES and len(text.encode("utf-8")) > MAX_STRING_BYTES


def key_too_long(name: str) -> bool:
    """Whether a property name is over CleverTap's ``MAX_KEY_BYTES`` in UTF-8."""
    return len(name.encode("utf-8")) > MAX_KEY_BYTES


def read_identity(value: Any, column: str) -> str:
    """Return a row's identity as the string CleverTap receives, or raise InvalidRow."""
    if value is None:
        raise InvalidRow(f"identity column {column!r} is null")
    if value is UNREADABLE:
        raise unreadable(column)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidRow(f"identity column {column!r} holds binary data")
    if isinstance(value, (float, decimal.Decimal)) and not _is_finite(value):
        raise InvalidRow(f"identity column {column!r} is not a finite number")
    identity = value if type(value) is str else text_of(value)  # a str subclass becomes a str
    if identity is None:
        raise InvalidRow(f"identity column {column!r} is a number too long to be an identity")
    if not identity.strip():
        raise InvalidRow(f"identity column {column!r} is empty")
    return identity


def find_column(columns: Sequence[str], wanted: str, role: str) -> int:
    """Position of ``wanted`` in ``columns``; else of the one column that matches it ignoring case
    (a warehouse that folds unquoted names: Snowflake upper-cases them), logged; else a clear error
    listing the columns."""
    found = _matches(columns, wanted)
    if len(found) == 1:
        if columns[found[0]] != wanted:
            _log.info("%s %r is the query's column %r (matched ignoring case)", role, wanted, columns[found[0]])
        return found[0]
    raise ValueError(
        f"{role} {wanted!r} is not among the columns the query returns: {', '.join(columns) or '(none)'}"
        + (" (more than one matches it ignoring case)" if found else "")
    )


def _matches(columns: Sequence[str], wanted: str) -> list[int]:
    """The position of ``wanted``, or else the positions of the columns equal to it ignoring case."""
    names = list(columns)
    if wanted in names:
        return [names.index(wanted)]
    return [position for position, name in enumerate(names) if name.casefold() == wanted.casefold()]


def column_as_returned(columns: Sequence[str], wanted: str | None) -> str | None:
    """The column ``find_column`` takes ``wanted`` for, or ``wanted`` where it takes none."""
    found = [] if wanted is None else _matches(columns, wanted)
    return columns[found[0]] if len(found) == 1 else wanted


class MappingOptions(TypedDict, total=False):
    """The mapping arguments the profile and event mappers share (``PropertyMapper``'s)."""

    identity_column: str
    identity_type: Literal["identity", "clevertap_id"]
    property_columns: PropertyColumns
    convert_timestamps: bool
    timestamp_format: TimestampFormat


class PropertyMapper:
    """What the profile and event mappers share: the identity, the ``ts``, and the property values.

    :param columns: the column names, in row order.
    :param identity_column: the column holding each row's identity.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
    :param ts_column: a column whose value becomes the record's ``ts`` (epoch seconds).
    :param property_columns: None for every column the record does not use otherwise; a list
        of columns; or a mapping of column to property name.
    :param skipped_columns: the columns None leaves out besides the identity and ts ones.
    :param convert_timestamps: apply the Convert Timestamps rule to property values.
    :param timestamp_format: ``unix`` or ``clevertap_date`` for converted values.
    """

    def __init__(
        self,
        columns: Sequence[str],
        *,
        identity_column: str = "identity",
        identity_type: Literal["identity", "clevertap_id"] = "identity",
        ts_column: str | None = None,
        property_columns: PropertyColumns = None,
        skipped_columns: Sequence[str | None] = (),
        convert_timestamps: bool = True,
        timestamp_format: TimestampFormat = "unix",
    ) -> None:
        check_mapping_choices(identity_type, timestamp_format)
        self.identity_type = identity_type
        self.identity_column = identity_column
        self.ts_column = ts_column
        self.convert_timestamps = convert_timestamps
        self.timestamp_format = timestamp_format
        self._identity_index = find_column(columns, identity_column, "identity_column")
        self._ts_index = None if ts_column is None else find_column(columns, ts_column, "ts_column")
        skipped = {column_as_returned(columns, name) for name in (identity_column, ts_column, *skipped_columns)}
        self._properties = self._select_properties(columns, property_columns, skipped)
        self._column_of = {name: columns[index] for index, name in self._properties}

    @staticmethod
    def _select_properties(
        columns: Sequence[str], selection: PropertyColumns, skipped: set[str | None]
    ) -> list[tuple[int, str]]:
        if selection is None:
            pairs = [(column, column) for column in columns if column not in skipped]
        elif isinstance(selection, Mapping):
            pairs = list(selection.items())
        elif isinstance(selection, str):
            raise TypeError("property_columns must be a list of columns or a mapping, not a string")
        else:
            pairs = [(column, column) for column in selection]
        for _, name in pairs:
            if key_too_long(str(name)):
                raise ValueError(f"Property name {name!r} is longer than CleverTap's {MAX_KEY_BYTES} bytes")
        return [(find_column(columns, column, "property column"), str(name)) for column, name in pairs]

    def identity_of(self, row: Sequence[Any]) -> str | None:
        """The row's identity for reports (None when it has none): identities may be logged."""
        value = row[self._identity_index]
        return None if value is None else text_of(value)

    def _identity(self, row: Sequence[Any]) -> str:
        identity = row[self._identity_index]
        if type(identity) is not str or not identity.strip():  # a plain non-blank string is sent as it is
            identity = read_identity(identity, self.identity_column)
        return identity

    # Speed shortcut for _property_value on each value; what it buys: docs/benchmarks.md, "The speed shortcuts".
    def _property_dict(self, row: Sequence[Any]) -> dict[str, Any]:
        """The row's properties, nulls left out; raise InvalidRow for a value CleverTap cannot store."""
        properties: dict[str, Any] = {}
        convert_strings = self.convert_timestamps
        # The values _property_value would return unchanged are kept here without the call: short
        # strings that cannot be timestamps, booleans, ints and finite floats. A timestamp starts
        # with an ASCII digit: "0" <= value < ":" says so without slicing.
        for index, name in self._properties:
            value = row[index]
            kind = type(value)
            if kind is str:
                if len(value) > _SHORT_TEXT or (convert_strings and "0" <= value < ":"):
                    value = self._string_value(name, value)
            elif value is None:
                continue
            elif kind is float:
                if not _isfinite(value):
                    value = self._property_value(name, value)
            elif kind is not bool and not (kind is int and -_MAX_NUMBER <= value <= _MAX_NUMBER):
                value = self._property_value(name, value)
            properties[name] = value
        return properties

    def _read_ts(self, value: Any) -> int:
        column = self.ts_column
        if isinstance(value, str):  # first: SQLite and text staging columns hold times as text
            parsed = ts_text_seconds(value)
            if parsed is None:
                raise InvalidRow(f"ts column {column!r} is not an ISO-8601 date-time or epoch seconds")
            seconds = parsed
        elif isinstance(value, (dt.datetime, dt.date)):
            try:
                seconds = epoch_seconds(value)
            except OverflowError:  # an aware datetime whose UTC instant is outside years 1-9999
                raise InvalidRow(f"ts column {column!r} is out of range") from None
        elif isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            if not _is_finite(value):
                raise InvalidRow(f"ts column {column!r} is not a finite number")
            seconds = int(value)
        elif value is UNREADABLE:
            raise unreadable(column)
        else:
            raise InvalidRow(f"ts column {column!r} holds a {type(value).__name__}, not a time")
        if seconds <= 0:
            # CleverTap refuses ts 0 (code 525); a pre-1970 ts is surely a mistake too.
            raise InvalidRow(f"ts column {column!r} is not a positive epoch time")
        if seconds > MAX_TS:
            raise InvalidRow(f"ts column {column!r} is after the year 9999 (epoch milliseconds, not seconds?)")
        return seconds

    def _property_value(self, name: str, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self._string_value(name, value)
        if kind is bool:
            return value
        if kind is int:
            if -_MAX_NUMBER <= value <= _MAX_NUMBER:
                return value
            raise InvalidRow(f"property {name!r} is a number too large for CleverTap")
        if kind is float:
            if not math.isfinite(value):
                raise InvalidRow(f"property {name!r} is not a finite number")
            return value
        return self._uncommon_value(name, value)

    def _string_value(self, name: str, value: str) -> Any:
        if self.convert_timestamps and "0" <= value < ":":
            try:
                seconds = rule_seconds(value)  # convert_timestamp(value), with less work
            except OverflowError:  # not a time CleverTap can hold: left as the string it is
                seconds = None
            if seconds is not None:
                return format_epoch(seconds, self.timestamp_format)
        if too_long(value):
            raise InvalidRow(f"property {name!r} is longer than {MAX_STRING_BYTES} bytes")
        return value

    def _uncommon_value(self, name: str, value: Any) -> Any:
        """A scalar of a less common type (Decimal, datetime, UUID, str subclass) as CleverTap takes it;
        the mappers add their own collections (lists for profiles, ``Items`` for events)."""
        if value is UNREADABLE:
            raise unreadable(self._column_of.get(name, name))
        if isinstance(value, str):
            return self._property_value(name, str(value))
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, (int, float, decimal.Decimal)):
            if not _is_finite(value):
                raise InvalidRow(f"property {name!r} is not a finite number")
            if abs(value) > _MAX_NUMBER:  # type: ignore[operator]  # a Decimal compares with a float
                raise InvalidRow(f"property {name!r} is a number too large for CleverTap")
            if isinstance(value, decimal.Decimal):
                return int(value) if value == value.to_integral_value() else float(value)
            return int(value) if isinstance(value, int) else float(value)
        if isinstance(value, (dt.datetime, dt.date)):
            if self.convert_timestamps:
                try:
                    return format_epoch(epoch_seconds(value), self.timestamp_format)  # convert_timestamp(value)
                except OverflowError:  # an aware datetime whose UTC instant is outside years 1-9999
                    raise InvalidRow(f"property {name!r} is a date-time out of range") from None
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, Mapping):
            raise InvalidRow(f"property {name!r} is a nested object, which CleverTap cannot store")
        raise InvalidRow(f"property {name!r} holds a {type(value).__name__}, which CleverTap cannot store")
