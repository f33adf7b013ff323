"""The staged customers on MariaDB and DuckDB, for the stateful cases (``--mariadb``, ``--duckdb``).

MariaDB (``CLEVERTAP_BENCH_MARIADB_HOST``/``_PORT``/``_USER``, default root at 127.0.0.1:3306): a
database of the run's own, a random name, dropped at the end of the run; each case's copy is a
database of its own. DuckDB: one file per size under ``.benchmarks/``; each case's copy is a copy of
the file; ``CLEVERTAP_BENCH_DUCKDB_EXTRA`` is its connection's extra, as JSON (the DuckDB provider's
``memory_limit``, ``threads``). Only the customers are staged: the stateful cases (and the floor of
their CPU target) are the only ones run on these warehouses. Both reach the provider through Airflow
connections, as the warehouse matrix's tests do (MariaDB through ``mysqlclient``, the MySQL
provider's default driver).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demo import warehouse

BACKENDS = ("mariadb", "duckdb")
MARIADB_HOST = os.environ.get("CLEVERTAP_BENCH_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("CLEVERTAP_BENCH_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("CLEVERTAP_BENCH_MARIADB_USER", "root")
# The DuckDB connection's extra, as JSON: the DuckDB provider's settings, such as memory_limit and threads.
DUCKDB_EXTRA_VARIABLE = "CLEVERTAP_BENCH_DUCKDB_EXTRA"
DATABASE_PREFIX = "clevertap_bench_"  # every database a run creates starts with it
# MariaDB's NUMERIC has no decimals unless told; BOOLEAN is TINYINT(1) there, read back as 0 and 1.
MARIADB_CUSTOMERS_DDL = warehouse.STAGED_CUSTOMERS_DDL.replace("NUMERIC", "DECIMAL(12, 2)")
INSERT_CHUNK = 5000


def mariadb_connect(database: str | None) -> Any:
    """A connection to MariaDB, to ``database`` or to none."""
    import MySQLdb

    return MySQLdb.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER, database=database or "", charset="utf8mb4"
    )


def connect(backend: str, location: str) -> Any:
    """A DB-API connection to the MariaDB database or DuckDB file ``location``."""
    if backend == "mariadb":
        return mariadb_connect(location)
    import duckdb

    return duckdb.connect(location)


def streaming_cursor(backend: str, connection: Any) -> Any:
    """A cursor that fetches rows as they are read, not the whole result first (MariaDB)."""
    if backend == "mariadb":
        import MySQLdb.cursors

        return connection.cursor(MySQLdb.cursors.SSCursor)
    return connection.cursor()


def airflow_connection(backend: str, location: str) -> str:
    """The warehouse connection as JSON, for ``AIRFLOW_CONN_WAREHOUSE``."""
    if backend == "mariadb":
        return json.dumps(
            {
                "conn_type": "mysql",
                "host": MARIADB_HOST,
                "port": MARIADB_PORT,
                "login": MARIADB_USER,
                "schema": location,
                "extra": {"client": "mysqlclient"},
            }
        )
    extra = json.loads(os.environ.get(DUCKDB_EXTRA_VARIABLE) or "{}")
    return json.dumps({"conn_type": "duckdb", "host": location, **({"extra": extra} if extra else {})})


def build(backend: str, rows: int, customers: Iterable[tuple[Any, ...]], path: Path, log: Any) -> tuple[str, str]:
    """Stage ``customers`` (``rows`` of them); the table's location and prefix. DuckDB builds the
    file ``path`` once; MariaDB a new database every run."""
    if backend == "mariadb":
        database = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:10]}_{rows}"
        log(f"  building the staged table of {rows} rows in MariaDB database {database}")
        _on_server(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        try:
            _insert_mariadb(database, customers)
        except BaseException:
            discard(backend, database)
            raise
        return database, f"{database}."
    if not path.exists():
        log(f"  building the staged table of {rows} rows in {path.name} (once)")
        _build_duckdb(path, customers)
    return str(path), ""


def _on_server(statement: str) -> None:
    connection = mariadb_connect(None)
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


def _insert_mariadb(database: str, customers: Iterable[tuple[Any, ...]]) -> None:
    connection = mariadb_connect(database)
    try:
        cursor = connection.cursor()
        cursor.execute(MARIADB_CUSTOMERS_DDL)
        insert = f"INSERT INTO staged_customers VALUES ({', '.join(['%s'] * 12)})"
        chunk: list[tuple[Any, ...]] = []
        for row in customers:
            chunk.append(row)
            if len(chunk) == INSERT_CHUNK:
                cursor.executemany(insert, chunk)  # mysqlclient sends one multi-row INSERT
                chunk = []
        if chunk:
            cursor.executemany(insert, chunk)
        cursor.execute("ANALYZE TABLE staged_customers")
        cursor.fetchall()
        connection.commit()
    finally:
        connection.close()


def _build_duckdb(path: Path, customers: Iterable[tuple[Any, ...]]) -> None:
    """Through a CSV file: DuckDB inserts an ``executemany`` a row at a time."""
    import duckdb

    partial = path.with_suffix(f".partial-{os.getpid()}")
    spool = path.with_suffix(f".csv-{os.getpid()}")
    with spool.open("w", newline="") as out:
        write = csv.writer(out).writerow
        for row in customers:
            write([_csv_value(value) for value in row])
    try:
        db = duckdb.connect(str(partial))
        try:
            db.execute(warehouse.STAGED_CUSTOMERS_DDL)
            db.execute(f"COPY staged_customers FROM '{spool}' (FORMAT CSV, HEADER false, NULLSTR '\\N')")
        finally:
            db.close()  # checkpoints: the file holds every row, no WAL beside it
        partial.replace(path)  # atomic: a concurrent run never reads a half-built file
    finally:
        spool.unlink(missing_ok=True)


def _csv_value(value: Any) -> Any:
    if value is None:
        return "\\N"
    return str(value).lower() if isinstance(value, bool) else value


@contextmanager
def own_copy(backend: str, location: str, prefix: str, name: str) -> Iterator[tuple[str, str]]:
    """A copy of the staged table for one case (location and prefix), removed after it."""
    if backend == "mariadb":
        database = f"{location}_{name}"
        _on_server(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        try:
            _on_server(f"CREATE TABLE {database}.staged_customers AS SELECT * FROM {prefix}staged_customers")
            yield location, f"{database}."
        finally:
            _on_server(f"DROP DATABASE IF EXISTS {database}")
        return
    copy = Path(location).with_name(f"{name}-{Path(location).name}")
    shutil.copyfile(location, copy)
    try:
        yield str(copy), prefix
    finally:
        copy.unlink(missing_ok=True)
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)


def discard(backend: str, location: str) -> None:
    """Drop what the run built that no later run reuses: MariaDB's database."""
    if backend == "mariadb":
        _on_server(f"DROP DATABASE IF EXISTS {location}")
