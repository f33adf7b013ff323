"""DuckDB through Airflow's DuckDB provider: a file of the test session's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.warehouses.engines import Engine, EngineUnavailable


class DuckDB(Engine):
    name = "duckdb"
    conn_type = "duckdb"
    mark = "?"
    types = {**Engine.types, "timestamp": "TIMESTAMPTZ"}

    def start(self, workdir: Path) -> None:
        try:
            import duckdb  # noqa: F401
        except ImportError as error:
            raise EngineUnavailable(f"duckdb is not installed: {error}") from error
        self.path = workdir / "warehouse.duckdb"

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)

    def connection(self) -> dict[str, Any]:
        return {"conn_type": "duckdb", "host": str(self.path)}

    def connect(self) -> Any:
        import duckdb

        return duckdb.connect(str(self.path))


ENGINES = (DuckDB(),)
