"""An SQLite copy of the stored profiles, so a demo can be inspected after the emulator stops.

The table is ``profiles(guid, identity, ts, profile_json)``; ``profile_json`` holds the
profile's ``profileData`` as a JSON object and ``identity`` is NULL for a profile known only
by its objectId. For example::

    sqlite3 emulator.db "select identity, json_extract(profile_json, '$.Plan') from profiles"
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    guid TEXT PRIMARY KEY,
    identity TEXT UNIQUE,
    ts INTEGER NOT NULL,
    profile_json TEXT NOT NULL
)
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class ProfileStore:
    """Profiles written through to an SQLite file, one transaction per call.

    Not thread-safe by itself: the emulator's state calls it under its own lock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        # WAL with synchronous=NORMAL commits without waiting on the disk: a batch costs
        # little on the request path, and what is committed survives the process.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def load(self) -> Iterator[dict[str, Any]]:
        """Yield the profiles already in the file, in the emulator's profile shape."""
        for guid, identity, ts, profile_json in self._db.execute(
            "SELECT guid, identity, ts, profile_json FROM profiles ORDER BY rowid"
        ):
            yield {"identity": identity, "guid": guid, "ts": ts, "profileData": _decode(profile_json)}

    def save(self, profiles: Iterable[dict[str, Any]]) -> None:
        """Write (insert or replace) these profiles."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO profiles (guid, identity, ts, profile_json) VALUES (?, ?, ?, ?)",
                [(p["guid"], p["identity"], p["ts"], _encode(p["profileData"]).decode()) for p in profiles],
            )

    def delete(self, guids: Iterable[str]) -> None:
        """Remove the profiles with these guids."""
        with self._db:
            self._db.executemany("DELETE FROM profiles WHERE guid = ?", [(guid,) for guid in guids])

    def clear(self) -> None:
        """Remove every profile."""
        with self._db:
            self._db.execute("DELETE FROM profiles")

    def close(self) -> None:
        """Close the file; closing the last connection folds the WAL back into it."""
        self._db.close()
