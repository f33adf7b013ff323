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
from typing import IO, Any

import msgspec

from airflow_provider_clevertap.responses import BatchResult

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
    others ``(identity, encoded record, [key, fingerprint])``, ready for ``upload_encoded``.

    Works on the joined query's rows: the state's MIN and MAX fingerprint, the row's key and the
    warehouse's hash of the row are their last four values. A row is unchanged only when both
    fingerprints equal the fingerprint of the record it would send now.

    :param mapper: what turns a row into a record (``convert``, ``identity_of``).
    :param key: the hash key of the mapping options (``fingerprint_key``).
    :param identity_of_record: the identity a record is sent with.
    :param match_key_only: unchanged means "the key is in the state", whatever the fingerprint
        (records sent at most once, such as events keyed by their id).
    """

    def __init__(
        self,
        mapper: Any,
        key: bytes,
        identity_of_record: Callable[[Any], Any],
        *,
        match_key_only: bool = False,
    ) -> None:
        self._convert = mapper.convert
        self.identity_of = mapper.identity_of
        output_fields = getattr(mapper, "output_fields", None)
        if output_fields is not None:  # the schema of what is written, for lineage
            self.output_fields = output_fields
        self._key = key
        self._identity_of_record = identity_of_record
        self._match_key_only = match_key_only

    def convert(self, row: Sequence[Any]) -> Any:
        record = self._convert(row)
        if self._match_key_only and row[-4] is not None:
            return UNCHANGED
        encoded = _encode(record)
        fingerprint = hashlib.blake2b(encoded, digest_size=FINGERPRINT_BYTES, key=self._key).hexdigest()
        if row[-4] == fingerprint and row[-3] == fingerprint:
            return UNCHANGED
        return self._identity_of_record(record), encoded, [row[-2], fingerprint, row[-1]]


class Confirmed:
    """What CleverTap confirmed this run, waiting in a temporary file (not in memory) until it is
    written to the state table, once the source's read is over.

    An entry is a batch item's tag plus its identity: ``[key, fingerprint, row hash, identity]`` for an
    upload of ``ChangeFilter`` items, ``[identity]`` for a batch with no tags (a delete). A batch
    confirms its items minus the refused ones; a batch with a refusal that cannot be placed
    confirms nothing (any of its items may be the refused one).
    """

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self.count = 0

    def note(self, result: BatchResult) -> None:
        refused = {refusal.position for refusal in result.refused}
        if None in refused:
            return
        tags = result.tags
        write = self._file.write
        for position, identity in enumerate(result.identities):
            if position not in refused:
                entry = [identity] if tags is None else [*tags[position], identity]
                write(_encode(entry) + b"\n")
                self.count += 1

    def __iter__(self) -> Iterator[list[Any]]:
        self._file.seek(0)
        try:
            for line in self._file:
                yield _decode(line)
        finally:
            self._file.seek(0, io.SEEK_END)

    def close(self) -> None:
        self._file.close()
