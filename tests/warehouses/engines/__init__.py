"""The warehouse matrix's engines: one module a warehouse, each exposing ``ENGINES``.

A module here defines one or more :class:`Engine` subclasses and lists an instance of each in a
module-level ``ENGINES`` tuple (MariaDB has two: one per driver). ``all_engines`` imports every
module of this package, so adding a warehouse to the matrix is adding a module; every scenario in
``tests/warehouses`` then runs on it. ``/work/brief/warehouse-engine-interface.md`` is the short form.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from _sql_warehouse import SqlWarehouse

# The kinds of column a scenario stages; each engine names its own type for each.
KINDS = ("text", "key", "integer", "numeric", "timestamp")


class EngineUnavailable(Exception):
    """The engine cannot run here (a driver or server missing): skipped locally, a failure in CI."""


class Engine:
    """One warehouse as the scenarios need it: a session's database, an Airflow connection to it,
    and the test's own SQL beside the operators'.

    Subclasses set the class attributes and implement ``start``, ``stop``, ``connection`` and
    ``connect``; the rest has defaults that plain DB-API drivers satisfy.
    """

    name: ClassVar[str]  # the pytest id, e.g. "mariadb-mysqlclient"
    conn_type: ClassVar[str]  # the Airflow connection type (the key of state/dialects.py's DIALECTS)
    requires: ClassVar[tuple[str, ...]] = ()  # modules imported in start(): missing -> EngineUnavailable
    mark: ClassVar[str] = "%s"  # the driver's parameter placeholder
    quote_char: ClassVar[str] = '"'
    # Column types for the kinds of KINDS ("key": an identity or event id, up to 1100 characters).
    types: ClassVar[dict[str, str]] = {
        "text": "VARCHAR(2000)",
        "key": "VARCHAR(2000)",
        "integer": "INTEGER",
        "numeric": "NUMERIC(12, 3)",
        "timestamp": "TIMESTAMP",
    }

    # -- what every engine implements -------------------------------------------------------------

    def start(self, workdir: Path) -> None:
        """Once a test session: import the driver, reach the server, create the session's own
        database (a random name) or file under ``workdir``. Raise EngineUnavailable when it can't."""
        raise NotImplementedError

    def stop(self) -> None:
        """Once a test session, after the last test: drop what ``start`` created."""
        raise NotImplementedError

    def connection(self) -> dict[str, Any]:
        """The Airflow connection to the session's database, as the JSON of ``AIRFLOW_CONN_...``."""
        raise NotImplementedError

    def connect(self) -> Any:
        """A DB-API connection to the session's database, for the test's own SQL."""
        raise NotImplementedError

    # -- defaults ---------------------------------------------------------------------------------

    def connection_json(self) -> str:
        return json.dumps(self.connection())

    def table_name(self, name: str) -> str:
        """A table of the session's database as the scenarios' SQL names it (BigQuery: qualified
        with the session's dataset: its queries have no default dataset)."""
        return name

    def quote(self, name: str) -> str:
        """A column name quoted so the warehouse keeps its case."""
        return f"{self.quote_char}{name}{self.quote_char}"

    def cast(self, expression: str, kind: str) -> str:
        """``expression`` CAST to a kind of KINDS, in a query."""
        return f"CAST({expression} AS {self.types[kind]})"

    def create_table(self, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
        """Create ``table`` with ``(name, kind)`` columns (names quoted) and insert ``rows``."""
        spec = ", ".join(f"{self.quote(name)} {self.types[kind]}" for name, kind in columns)
        self.execute(f"CREATE TABLE {table} ({spec})")
        if rows:
            marks = ", ".join(["?"] * len(columns))
            self.execute(f"INSERT INTO {table} VALUES ({marks})", rows)

    def execute(self, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        """Run ``sql`` (``?`` placeholders), once or for each of ``rows``, and commit."""
        self._sql().execute(sql, rows)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self._sql().query(sql)

    def _sql(self) -> SqlWarehouse:
        return SqlWarehouse(self.name, "", self.connect, self.mark)

    def drop_table(self, table: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {table}")


def all_engines() -> list[Engine]:
    """Every engine of every module of this package, in module order."""
    found: list[Engine] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        found.extend(importlib.import_module(f"{__name__}.{module.name}").ENGINES)
    return found
