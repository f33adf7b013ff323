"""SQLite: a file of the test session's own."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.warehouses.engines import Engine


class SQLite(Engine):
    name = "sqlite"
    conn_type = "sqlite"
    mark = "?"
    types = {**Engine.types, "numeric": "NUMERIC", "timestamp": "TEXT"}

    def start(self, workdir: Path) -> None:
        self.path = workdir / "warehouse.db"

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "sqlite", "host": str(self.path)}

    def connect(self) -> Any:
        return sqlite3.connect(self.path)


ENGINES = (SQLite(),)
