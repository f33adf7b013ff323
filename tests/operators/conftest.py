"""Fixtures for the operator tests: a fake CleverTap API on requests-mock that answers the way
the real one does (HTTP 200, refusals listed with "Skipped record number : N"), real SQLite and
PostgreSQL warehouses, fast-retrying hooks, and task logs routed into ``caplog``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CONTEXT_RUN_ID = "manual__2026-01-01T00:00:00+00:00"


@pytest.fixture
def context() -> dict[str, Any]:
    """The smallest task context ``execute`` needs."""
    return {"run_id": CONTEXT_RUN_ID}


# -- a fake CleverTap ---------------------------------------------------------------------------


@dataclass
class SeenCall:
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]


@dataclass
class FakeCleverTap:
    """Answers ``/1/upload`` and ``/1/delete/profiles.json`` like CleverTap does.

    ``refuse(record)`` returns ``(code, message)`` for a record CleverTap would refuse, or None.
    ``fail(body)`` returns an HTTP status to answer a whole request with (e.g. 503), or None.
    ``on_request(body)`` is called first for every request (to record ordering).
    """

    base_url: str
    calls: list[SeenCall] = field(default_factory=list)
    refuse: Callable[[dict[str, Any]], tuple[int, str] | None] = lambda record: None
    fail: Callable[[dict[str, Any]], int | None] = lambda body: None
    on_request: Callable[[dict[str, Any]], None] = lambda body: None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _seen(self, request: Any) -> dict[str, Any]:
        body = request.json()
        self.on_request(body)
        parts = urlsplit(request.url)
        with self.lock:
            self.calls.append(SeenCall(parts.path, parse_qs(parts.query), body))
        return body

    def upload(self, request: Any, context: Any) -> dict[str, Any]:
        body = self._seen(request)
        status = self.fail(body)
        if status is not None:
            context.status_code = status
            return {"status": "fail", "error": "Service unavailable", "code": status}
        records = body["d"]
        unprocessed = []
        for number, record in enumerate(records, start=1):
            verdict = self.refuse(record)
            if verdict is not None:
                code, message = verdict
                # The echo is normalised by the server: identity as a string, no profile data.
                echoed = {key: str(record[key]) for key in ("identity", "objectId") if key in record}
                unprocessed.append(
                    {
                        "status": "fail",
                        "code": code,
                        "error": f"{message}. Skipped record number : {number}",
                        "record": {**echoed, "type": "profile", "profileData": {}},
                    }
                )
        processed = len(records) - len(unprocessed)
        status_text = "success" if not unprocessed else ("partial" if processed else "fail")
        return {"status": status_text, "processed": processed, "unprocessed": unprocessed}

    def delete(self, request: Any, context: Any) -> dict[str, Any]:
        body = self._seen(request)
        status = self.fail(body)
        if status is not None:
            context.status_code = status
            return {"status": "fail", "error": "Service unavailable", "code": status}
        return {"status": "success"}

    # -- what was sent ---------------------------------------------------------------------

    def calls_to(self, path: str) -> list[SeenCall]:
        return [call for call in self.calls if call.path == path]

    @property
    def uploads(self) -> list[SeenCall]:
        return self.calls_to("/1/upload")

    @property
    def deletes(self) -> list[SeenCall]:
        return self.calls_to("/1/delete/profiles.json")

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record uploaded, in request order."""
        return [record for call in self.uploads for record in call.body["d"]]

    def record_of(self, identity: str, key: str = "identity") -> dict[str, Any]:
        matches = [record for record in self.records if record.get(key) == identity]
        assert len(matches) == 1, f"{identity!r} was uploaded {len(matches)} times"
        return matches[0]


@pytest.fixture
def clevertap(requests_mock, clevertap_connection) -> FakeCleverTap:
    fake = FakeCleverTap(clevertap_connection)
    requests_mock.post(f"{clevertap_connection}/1/upload", json=fake.upload)
    requests_mock.post(f"{clevertap_connection}/1/delete/profiles.json", json=fake.delete)
    return fake


@pytest.fixture
def fast_hook() -> Iterator[Callable[[Any], Any]]:
    """Give an operator a hook that retries quickly (2 attempts, millisecond back-off)."""
    from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

    def _install(operator: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("max_concurrency", operator.max_concurrency)
        kwargs.setdefault("max_attempts", 2)
        kwargs.setdefault("backoff_base", 0.001)
        kwargs.setdefault("backoff_max", 0.005)
        operator._hook = CleverTapHook(operator.clevertap_conn_id, **kwargs)
        return operator

    yield _install


@dataclass
class SqliteWarehouse:
    """The ``warehouse`` SQLite file, to create source tables in and read result tables from."""

    path: Path

    def create(self, table: str, columns: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        """CREATE TABLE ``table`` (``columns``) and insert ``rows``."""
        connection = sqlite3.connect(self.path)
        try:
            connection.execute(f"CREATE TABLE {table} ({columns})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            connection.commit()
        finally:
            connection.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(self.path)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()


@pytest.fixture
def sqlite_db(sqlite_warehouse) -> SqliteWarehouse:
    """The ``warehouse`` connection's SQLite file."""
    return SqliteWarehouse(sqlite_warehouse)


@pytest.fixture
def pg(postgres_uri, postgres_warehouse) -> Iterator[Any]:
    """An autocommit psycopg connection to the test database; drops the test's tables afterwards.

    Tables must be named with the ``postgres_warehouse`` prefix (``pg.prefix``).
    """
    import psycopg

    connection = psycopg.connect(postgres_uri, autocommit=True)
    connection.prefix = postgres_warehouse  # type: ignore[attr-defined]
    try:
        yield connection
    finally:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE %s",
            (postgres_warehouse + "%",),
        ).fetchall()
        for schema, table in tables:
            connection.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
        connection.close()
