"""Snowflake through the Snowflake provider's hook, on fakesnow: the connector patched onto DuckDB
files of the test session's own (``db_path``), so every connection sees the same database.

fakesnow folds unquoted names to upper case as Snowflake does; its timings say nothing about
Snowflake's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.warehouses.engines import Engine, EngineUnavailable

DATABASE = "CLEVERTAP_TEST"
SCHEMA = "MATRIX"


class Snowflake(Engine):
    name = "snowflake-fakesnow"
    conn_type = "snowflake"
    requires = ("fakesnow", "airflow.providers.snowflake.hooks.snowflake")
    types = {**Engine.types, "timestamp": "TIMESTAMP_TZ"}

    def start(self, workdir: Path) -> None:
        try:
            import fakesnow
            from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook  # noqa: F401
        except ImportError as error:
            raise EngineUnavailable(f"fakesnow or the Snowflake provider is not installed: {error}") from error
        (workdir / "fakesnow").mkdir()
        self._patch = fakesnow.patch(db_path=workdir / "fakesnow")
        self._patch.__enter__()

    def stop(self) -> None:
        self._patch.__exit__(None, None, None)

    def connection(self) -> dict[str, Any]:
        return {
            "conn_type": "snowflake",
            "login": "clevertap",
            "password": "not-a-secret",
            "schema": SCHEMA,
            "extra": {"account": "fakesnow", "database": DATABASE, "warehouse": "TEST_WH"},
        }

    def connect(self) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(database=DATABASE, schema=SCHEMA)


ENGINES = (Snowflake(),)
