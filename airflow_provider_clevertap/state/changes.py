"""Which rows changed since CleverTap last accepted them, and what CleverTap confirmed this run.

A row's fingerprint is a hash of the exact bytes of the record sent plus the mapping options, so
changing what a row holds, or how rows are mapped, sends the row again. The record is encoded
once: the same bytes are hashed and become part of the request body.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol

import msgspec

from airflow_provider_clevertap.properties import InvalidRow
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.state.dialects import KEY_LENGTH

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
FINGERPRINT_BYTES = 16  # 32 hex characters: collisions are out of reach for any table size


class Unchanged:
    """What a change filter returns for a row CleverTap already holds exactly (a single instance)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


def fingerprint_key(options: Any) -> bytes:
    """The hash key of a sync's mapping options: two syncs mapping alike fingerprint alike."""
    return hashlib.blake2b(_encode(options), digest_size=32).digest()


class ChangeFilter:
    """Wraps a row mapper: rows whose record CleverTap already holds become ``UNCHANGED``, the
    others ``(identity, encoded record, [key, fingerprint, row hash, held, key as queried])``, ready
    for ``upload_encoded`` (the state's key may be a hash of the one queried: MySQL's).

    Works on the joined query's rows: the state's MIN and MAX fingerprint, the row's key and the
    warehouse's hash of the row are their last four values. A row is unchanged only when both
    fingerprints equal the fingerprint of the record it would send now. A row whose identity or
    key is longer than the state holds (``KEY_LENGTH`` characters, ``key_bytes``) is invalid: sent,
    it could not be recorded.

    :param mapper: what turns a row into a record (``convert``, ``identity_of``).
    :param key: the hash key of the mapping options (``fingerprint_key``).
    :param identity_of_record: the identity a record is sent with.
    :param match_key_only: unchanged means "the key is in the state", whatever the fingerprint
        (records sent at most once, such as events keyed by their id).
    :param key_bytes: the most UTF-8 bytes of a key the state's index holds (``Dialect.key_bytes``).
    :param key_index: the position of the key column in the query's rows, to name a refused row by
        its key as queried; None to name it by the state's key.
    """

    def __init__(
        self,
        mapper: Any,
        key: bytes,
        identity_of_record: Callable[[Any], Any],
        *,
        match_key_only: bool = False,
        key_bytes: int | None = None,
        key_index: int | None = None,
    ) -> None:
        self._convert = mapper.convert
        self.identity_of = mapper.identity_of
        output_fields = getattr(mapper, "output_fields", None)
        if output_fields is not None:  # the schema of what is written, for lineage
            self.output_fields = output_fields
        # Keyed once, copied for each row: cheaper than keying anew (docs/benchmarks.md).
        self._keyed = hashlib.blake2b(digest_size=FINGERPRINT_BYTES, key=key)
        self._identity_of_record = identity_of_record
        self._match_key_only = match_key_only
        self._key_bytes = key_bytes
        self._key_index = -2 if key_index is None else key_index

    def convert(self, row: Sequence[Any]) -> Any:
        if self._match_key_only and row[-4] is not None:
            # Held, as the warehouse finds it where it can: no record made, no row counted twice.
            return UNCHANGED
        record = self._convert(row)
        identity = self._identity_of_record(record)
        key = row[-2]
        if len(str(identity)) > KEY_LENGTH or (isinstance(key, str) and len(key) > KEY_LENGTH):
            raise InvalidRow(f"the identity or key is longer than the {KEY_LENGTH} characters the state table holds")
        limit = self._key_bytes
        if limit is not None and isinstance(key, str) and len(key) * 4 > limit and len(key.encode()) > limit:
            raise InvalidRow(f"the key is longer than the {limit} bytes (UTF-8) the state table's index holds")
        encoded = _encode(record)
        hashed = self._keyed.copy()
        hashed.update(encoded)
        fingerprint = hashed.hexdigest()
        if row[-4] == fingerprint and row[-3] == fingerprint:
            return UNCHANGED
        held = row[-4] is not None  # the state had a row of this key: the new one replaces it
        return identity, encoded, [row[-2], fingerprint, row[-1], held, row[self._key_index]]


class Confirmations(Protocol):
    """Where a sync notes what CleverTap confirmed, batch by batch."""

    count: int  # confirmations noted

    def note(self, result: BatchResult) -> None: ...

    def close(self) -> None: ...


def confirmed_count(result: BatchResult) -> int:
    """How many items a batch confirms: its accepted ones, or none when it has a refusal that
    cannot be placed (any of its items may be the refused one)."""
    return 0 if any(refusal.position is None for refusal in result.refused) else result.accepted_count


def confirmed_entries(result: BatchResult) -> list[list[Any]]:
    """What a batch confirms (``confirmed_count``): an entry per accepted item, its tag plus its
    identity (``[key, fingerprint, row hash, held, identity]`` for an upload of ``ChangeFilter`` items,
    ``[identity]`` for a batch with no tags, a delete)."""
    if not confirmed_count(result):
        return []
    refused = {refusal.position for refusal in result.refused}
    tags = result.tags
    return [
        [identity] if tags is None else [*tags[position][:4], identity]
        for position, identity in enumerate(result.identities)
        if position not in refused
    ]


class Confirmed:
    """What CleverTap confirmed this run (``confirmed_entries`` of each batch), waiting in a
    temporary file (not in memory) until it is written once the source's read is over."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self.count = 0

    def note(self, result: BatchResult) -> None:
        entries = confirmed_entries(result)
        self._file.write(b"".join(_encode(entry) + b"\n" for entry in entries))
        self.count += len(entries)

    def __iter__(self) -> Iterator[list[Any]]:
        self._file.seek(0)
        try:
            for line in self._file:
                yield _decode(line)
        finally:
            self._file.seek(0, io.SEEK_END)

    def close(self) -> None:
        self._file.close()
