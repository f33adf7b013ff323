"""The staged tables every case reads, generated once per size and cached: demo/warehouse.py's
customers (and as many deletions), and as many orders, the event cases' rows.

SQLite (the default): one file per size under ``.benchmarks/`` (gitignored). PostgreSQL (``--postgres``):
one schema per size in the test database. Both are named after a digest of the row generator, so a
change to ``demo/warehouse.py`` builds fresh tables instead of reusing stale ones. MariaDB and DuckDB
(``--mariadb``, ``--duckdb``): the customers only, for the stateful cases (``benchmarks/warehouses.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import warehouses
from demo import warehouse
from demo.warehouse import postgres_connection

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".benchmarks"
INTERVAL_START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
POSTGRES_URI = os.environ.get("CLEVERTAP_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")

# The upload task of example_dags/clevertap_user_sync.py: the same column mapping and options.
UPLOAD_OPTIONS = {
    "identity_column": "customer_id",
    "ts_column": "updated_at",
    "property_columns": {
        "full_name": "Name",
        "email": "Email",
        "phone": "Phone",
        "gender": "Gender",
        "plan": "Plan",
        "lifetime_value": "Lifetime Value",
        "orders": "Orders",
        "is_active": "Active",
        "signup_at": "Signup Date",
    },
    "timestamp_format": "clevertap_date",
}
DELETE_ID_COLUMN = "customer_id"

# The event task of example_dags/clevertap_event_sync.py, on a table of orders: one order per row,
# its id the event id (the state of accepted ids lives on the source connection).
EVENT_OPTIONS = {
    "identity_column": "customer_id",
    "event_name": "Charged",
    "ts_column": "ordered_at",
    "event_id_column": "order_id",
    "property_columns": {"order_id": "Order ID", "amount": "Amount"},
}
STAGED_EVENTS_DDL = (
    "CREATE TABLE staged_events (order_id TEXT, customer_id TEXT, amount DOUBLE PRECISION, ordered_at TEXT)"
)
ORDERS_PER_CUSTOMER = 3  # the orders go to a third as many customers, in turn
BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB", "duckdb": "DuckDB"}


def event_rows(count: int) -> Iterator[tuple[str, str, float, str]]:
    """``count`` orders of the data interval: order id, customer id, amount, time (ISO-8601, UTC)."""
    customers = max(1, count // ORDERS_PER_CUSTOMER)
    for key in range(1, count + 1):
        ordered_at = INTERVAL_START + dt.timedelta(seconds=key * 86_400 // (count + 1))
        amount = round(5 + (key * 7919 % 50_000) / 100, 2)
        yield (f"ord-{key:08d}", f"cust-{key % customers + 1:07d}", amount, ordered_at.strftime("%Y-%m-%dT%H:%M:%S"))


def expected_events(rows: int) -> dict[str, int]:
    """What an upload of the orders must end with: every event accepted (none is faulty)."""
    return {"rows_accepted": rows, "rows_refused": 0, "rows_invalid": 0}


def _digest() -> str:
    source = Path(warehouse.__file__).read_bytes()
    return hashlib.sha256(source + b"bench-v3").hexdigest()[:8]  # v3: in WAL mode


@dataclass(frozen=True)
class Table:
    """Where a case finds its rows, in a form a fresh process can use (plain JSON)."""

    backend: str  # a key of BACKEND_NAMES
    rows: int
    location: str  # the SQLite or DuckDB file, the PostgreSQL URI, or the MariaDB database
    prefix: str  # "" or "schema." (MariaDB: "database.")

    @property
    def upload_sql(self) -> str:
        return f"SELECT * FROM {self.prefix}staged_customers"

    @property
    def event_sql(self) -> str:
        return f"SELECT * FROM {self.prefix}staged_events"

    @property
    def delete_sql(self) -> str:
        return f"SELECT {DELETE_ID_COLUMN} FROM {self.prefix}staged_deletions"

    def connect(self) -> Any:
        """A DB-API connection to the table's database."""
        if self.backend == "sqlite":
            return sqlite3.connect(self.location)
        if self.backend in warehouses.BACKENDS:
            return warehouses.connect(self.backend, self.location)
        import psycopg

        return psycopg.connect(self.location)

    def streaming_cursor(self, connection: Any) -> Any:
        """A cursor of ``connection`` that reads rows as they are fetched (server-side where needed)."""
        if self.backend == "sqlite":
            return connection.cursor()
        if self.backend in warehouses.BACKENDS:
            return warehouses.streaming_cursor(self.backend, connection)
        return connection.cursor(name="bench_floor")

    def airflow_connection(self) -> str:
        """The warehouse connection as JSON, for ``AIRFLOW_CONN_WAREHOUSE``."""
        if self.backend == "sqlite":
            return json.dumps({"conn_type": "sqlite", "host": self.location})
        if self.backend in warehouses.BACKENDS:
            return warehouses.airflow_connection(self.backend, self.location)
        return postgres_connection(self.location)

    def as_dict(self) -> dict[str, object]:
        return {"backend": self.backend, "rows": self.rows, "location": self.location, "prefix": self.prefix}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Table:
        return cls(str(data["backend"]), int(data["rows"]), str(data["location"]), str(data["prefix"]))  # type: ignore[arg-type]


def table(rows: int, backend: str = "sqlite", log=print) -> Table:
    """The staged tables of ``rows`` customers (and as many deletions and orders), built on first use."""
    if backend == "sqlite":
        return _sqlite_table(rows, log)
    if backend == "postgres":
        return _postgres_table(rows, log)
    if backend in warehouses.BACKENDS:
        CACHE.mkdir(exist_ok=True)
        path = CACHE / f"warehouse-{_digest()}-{rows}.duckdb"
        customers = warehouse.customer_rows(rows, INTERVAL_START)
        return Table(backend, rows, *warehouses.build(backend, rows, customers, path, log))
    raise ValueError(f"unknown backend {backend!r}")


def discard(table: Table) -> None:
    """Drop what ``table`` built that no later run reuses (MariaDB's database of the run)."""
    if table.backend in warehouses.BACKENDS:
        warehouses.discard(table.backend, table.location)


@contextmanager
def own_copy(table: Table, name: str) -> Iterator[Table]:
    """A copy of the staged tables for one case, removed after it: a stateful case writes its state
    table there and edits the rows, so no case sees another's."""
    if table.backend == "sqlite":
        copy = CACHE / f"{name}-{table.rows}.db"
        shutil.copyfile(table.location, copy)
        try:
            yield replace(table, location=str(copy))
        finally:
            copy.unlink(missing_ok=True)
        return
    if table.backend in warehouses.BACKENDS:
        with warehouses.own_copy(table.backend, table.location, table.prefix, name) as (where, prefix):
            yield replace(table, location=where, prefix=prefix)
        return
    import psycopg

    schema = f"clevertap_bench_copy_{name}_{table.rows}"
    with psycopg.connect(table.location, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        db.execute(f"CREATE SCHEMA {schema}")
        for staged in ("staged_customers", "staged_events"):
            db.execute(f"CREATE TABLE {schema}.{staged} AS SELECT * FROM {table.prefix}{staged}")
            db.execute(f"ANALYZE {schema}.{staged}")
    try:
        yield replace(table, prefix=f"{schema}.")
    finally:
        with psycopg.connect(table.location, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def expected_upload(rows: int) -> dict[str, int]:
    """What an upload of the table must end with: accepted, refused by CleverTap, invalid."""
    return warehouse.expected_outcome(rows)


def _sqlite_table(rows: int, log) -> Table:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"warehouse-{_digest()}-{rows}.db"
    if not path.exists():
        log(f"  building the staged table of {rows} rows in {os.path.relpath(path, ROOT)} (once)")
        partial = path.with_suffix(f".partial-{os.getpid()}")
        warehouse.build_warehouse(partial, rows, INTERVAL_START, deletions=rows)
        db = sqlite3.connect(partial)
        try:
            with db:
                db.execute(STAGED_EVENTS_DDL)
                db.executemany("INSERT INTO staged_events VALUES (?, ?, ?, ?)", event_rows(rows))
                db.execute("ANALYZE")
            # WAL, kept by the file and its copies: a stateful sync writes its state beside its open
            # read, as on a warehouse (PostgreSQL, Snowflake, ...). In SQLite's default rollback
            # journal the state could only be written after the read (state/recorder.py), a cost no
            # real warehouse makes the provider pay.
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()  # the last connection folds the WAL back into the file before it is renamed
        partial.replace(path)  # atomic: a concurrent run never reads a half-built file
    return Table("sqlite", rows, str(path), "")


def _postgres_table(rows: int, log) -> Table:
    import psycopg

    schema = f"clevertap_bench_{_digest()}_{rows}"
    with psycopg.connect(POSTGRES_URI) as db:
        ready = db.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'ready'", (schema,)
        ).fetchone()
        if ready is None:
            log(f"  building the staged table of {rows} rows in PostgreSQL schema {schema} (once)")
            # One transaction: a table is either complete (with its "ready" marker) or absent.
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            db.execute(f"CREATE SCHEMA {schema}")
            db.execute(f"SET search_path TO {schema}")
            db.execute(warehouse.STAGED_CUSTOMERS_DDL)
            db.execute(warehouse.STAGED_DELETIONS_DDL)
            db.execute(STAGED_EVENTS_DDL)
            with db.cursor().copy("COPY staged_customers FROM STDIN") as copy:
                for row in warehouse.customer_rows(rows, INTERVAL_START):
                    copy.write_row(row)
            requested = (INTERVAL_START + dt.timedelta(hours=12)).strftime("%Y-%m-%d %H:%M:%S")
            with db.cursor().copy("COPY staged_deletions FROM STDIN") as copy:
                for key in range(1, rows + 1):
                    copy.write_row((f"cust-{key:07d}", requested))
            with db.cursor().copy("COPY staged_events FROM STDIN") as copy:
                for row in event_rows(rows):
                    copy.write_row(row)
            db.execute("CREATE TABLE ready (built_at TIMESTAMPTZ DEFAULT now())")
            db.execute("ANALYZE staged_customers")
            db.execute("ANALYZE staged_deletions")
            db.execute("ANALYZE staged_events")
    return Table("postgres", rows, POSTGRES_URI, f"{schema}.")
