"""The warehouse matrix: every test here runs once per engine of ``engines`` (one module a
warehouse), against the emulator over real HTTP.

``engine`` starts each engine once a session (its own database, dropped at the end); ``wh`` gives
a test the Airflow connection ``wh_matrix`` to it and table names of its own. An engine that
cannot run here is skipped, except in CI (``CI`` set), where that fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.state.conftest import emu, emulator  # noqa: F401  (the emulator over real HTTP)
from tests.warehouses.engines import Engine, EngineUnavailable, all_engines

CONN_ID = "wh_matrix"
ENGINES = all_engines()


@pytest.fixture(scope="session", params=ENGINES, ids=[engine.name for engine in ENGINES])
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    found: Engine = request.param
    try:
        found.start(tmp_path_factory.mktemp(found.name))
    except EngineUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"warehouse {found.name} must run in CI: {error}")
        pytest.skip(f"warehouse {found.name} unavailable: {error}")
    try:
        yield found
    finally:
        found.stop()


@dataclass
class Warehouse:
    """One test's view of an engine: the Airflow connection id, and table names of its own."""

    engine: Engine
    prefix: str
    conn_id: str = CONN_ID
    tables: list[str] = field(default_factory=list)

    def table(self, name: str) -> str:
        """A table name of this test's own (dropped after it)."""
        full = self.engine.table_name(f"{self.prefix}_{name}")
        if full not in self.tables:
            self.tables.append(full)
        return full

    def create(self, name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> str:
        table = self.table(name)
        self.engine.create_table(table, columns, rows)
        return table

    def q(self, name: str) -> str:
        return self.engine.quote(name)

    def execute(self, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        self.engine.execute(sql, rows)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.engine.query(sql)


@pytest.fixture
def wh(engine: Engine, monkeypatch) -> Iterator[Warehouse]:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", engine.connection_json())
    found = Warehouse(engine, f"t{uuid.uuid4().hex[:8]}")
    try:
        yield found
    finally:
        for table in found.tables:
            engine.drop_table(table)
            engine.drop_table(f"{table}_layout")  # a state table's layout, beside it
