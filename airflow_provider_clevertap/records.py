"""How a row becomes a CleverTap profile record, or is reported invalid with a reason.

Invalid rows are never sent: the reasons are the limits CleverTap documents (property keys up
to 120 bytes, string values up to 512 bytes, at most 256 custom properties, no nested objects) plus
values JSON cannot carry (NaN, infinity) and rows with no identity. The value rules profiles share
with events are in ``properties``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_clevertap.properties import (
    IDENTITY_TYPES,
    MAX_KEY_BYTES,
    MAX_STRING_BYTES,
    UPLOAD_ID_KEYS,
    InvalidRow,
    MappingOptions,
    PropertyMapper,
    check_choice,
    find_column,
    read_identity,
    text_of,
    too_long,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

MAX_CUSTOM_PROPERTIES = 256
# CleverTap's own profile fields: they do not count against the limit of custom properties.
STANDARD_PROPERTIES = frozenset(
    {
        "Name",
        "Email",
        "Phone",
        "Gender",
        "DOB",
        "Age",
        "Employed",
        "Education",
        "Married",
        "Photo",
        "Identity",
        "MSG-email",
        "MSG-push",
        "MSG-sms",
        "MSG-whatsapp",
        "MSG-dndPhone",
        "MSG-dndEmail",
        "Tz",
    }
)

__all__ = [
    "IDENTITY_TYPES",
    "MAX_CUSTOM_PROPERTIES",
    "MAX_KEY_BYTES",
    "MAX_STRING_BYTES",
    "STANDARD_PROPERTIES",
    "IdMapper",
    "InvalidRow",
    "ProfileMapper",
    "check_choice",
    "find_column",
    "read_identity",
]


class IdMapper:
    """Turns rows into the ids of profiles to delete (identities or CleverTap ids (``clevertap_id``)).

    :param columns: the column names, in row order.
    :param id_column: the column holding the id.
    """

    def __init__(self, columns: Sequence[str], *, id_column: str) -> None:
        self.id_column = id_column
        self._index = find_column(columns, id_column, "identity_column")

    def identity_of(self, row: Sequence[Any]) -> str | None:
        value = row[self._index]
        return None if value is None else text_of(value)

    def convert(self, row: Sequence[Any]) -> str:
        return read_identity(row[self._index], self.id_column)


class ProfileMapper(PropertyMapper):
    """Turns rows (tuples in ``columns`` order) into CleverTap profile records.

    :param columns: the column names, in row order.
    :param identity_column: the column holding each profile's identity.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
    :param ts_column: a column whose value becomes the record's ``ts`` (epoch seconds).
    :param property_columns: None for every other column; a list of columns; or a mapping of
        column to property name.
    :param convert_timestamps: apply the Convert Timestamps rule to property values.
    :param timestamp_format: ``unix`` or ``clevertap_date`` for converted values.
    """

    def __init__(
        self, columns: Sequence[str], *, ts_column: str | None = None, **options: Unpack[MappingOptions]
    ) -> None:
        super().__init__(columns, ts_column=ts_column, **options)
        # Only a mapper given more custom properties than the limit can build a row over it.
        custom = {name for _, name in self._properties} - STANDARD_PROPERTIES
        self._may_exceed_custom_limit = len(custom) > MAX_CUSTOM_PROPERTIES

    def output_fields(self) -> list[tuple[str, ...]]:
        """The fields records may carry, as paths (``("profileData", "Email")``), for lineage."""
        timestamp = [("ts",)] if self.ts_column is not None else []
        return [
            (UPLOAD_ID_KEYS[self.identity_type],),
            *timestamp,
            *(("profileData", name) for _, name in self._properties),
        ]

    def convert(self, row: Sequence[Any]) -> dict[str, Any]:
        """Return the row's profile record, or raise InvalidRow saying why it cannot be sent."""
        record: dict[str, Any] = {"type": "profile", UPLOAD_ID_KEYS[self.identity_type]: self._identity(row)}
        ts_index = self._ts_index
        if ts_index is not None and row[ts_index] is not None:
            record["ts"] = self._read_ts(row[ts_index])
        profile = self._property_dict(row)
        if self._may_exceed_custom_limit:
            custom = sum(1 for name in profile if name not in STANDARD_PROPERTIES)
            if custom > MAX_CUSTOM_PROPERTIES:
                raise InvalidRow(f"{custom} custom properties, more than CleverTap's {MAX_CUSTOM_PROPERTIES}")
        record["profileData"] = profile
        return record

    def _uncommon_value(self, name: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):  # a multi-value property: strings only
            if not all(isinstance(item, str) for item in value):
                raise InvalidRow(f"property {name!r} is a list that holds more than strings")
            if any(too_long(item) for item in value):
                raise InvalidRow(f"property {name!r} holds a string longer than {MAX_STRING_BYTES} bytes")
            return list(value)
        return super()._uncommon_value(name, value)
