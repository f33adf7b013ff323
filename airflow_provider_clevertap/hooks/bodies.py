"""The bodies of upload and delete requests, encoded as their batches are formed."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from more_itertools import chunked

from airflow_provider_clevertap.hooks.batches import EncodedBatch, PackedIdentities

_json_encode = msgspec.json.Encoder().encode
_identity_field = operator.methodcaller("get", "identity")


def record_batches(records: Iterable[dict[str, Any]], batch_size: int) -> Iterator[EncodedBatch]:
    """Upload batches of CleverTap records (profiles or events), each named by its records' identities."""
    return (
        EncodedBatch(PackedIdentities(_record_identities(batch)), _json_encode({"d": batch}))
        for batch in chunked(records, batch_size)
    )


def encoded_record_batches(records: Iterable[tuple[Any, bytes, Any]], batch_size: int) -> Iterator[EncodedBatch]:
    """Upload batches of records already encoded: ``(identity, JSON of the record, tag)``."""
    return (
        EncodedBatch(
            PackedIdentities([record[0] for record in batch]),
            b'{"d":[' + b",".join([record[1] for record in batch]) + b"]}",
            PackedIdentities([record[2] for record in batch]),
        )
        for batch in chunked(records, batch_size)
    )


def delete_batches(ids: Iterable[str], id_key: str, batch_size: int) -> Iterator[EncodedBatch]:
    """Delete batches of identities or CleverTap ids, under the request's key for them (``id_key``:
    ``identity`` or ``guid``)."""
    return (EncodedBatch(PackedIdentities(batch), _json_encode({id_key: batch})) for batch in chunked(ids, batch_size))


def check_batch_size(batch_size: int, limit: int) -> None:
    if not 1 <= batch_size <= limit:
        raise ValueError(f"batch_size must be between 1 and {limit} (CleverTap's limit), got {batch_size}")


def _record_identities(records: list[dict[str, Any]]) -> list[Any]:
    """Each record's identity, or its objectId when it has none."""
    identities = list(map(_identity_field, records))
    if None in identities:
        identities = [
            identity if identity is not None else record.get("objectId")
            for identity, record in zip(identities, records, strict=True)
        ]
    return identities
