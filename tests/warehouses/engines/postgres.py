"""PostgreSQL: a schema of the test session's own in the test database."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from tests.warehouses.engines import Engine, EngineUnavailable

URI = os.environ.get("CLEVERTAP_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")


class PostgreSQL(Engine):
    name = "postgres"
    conn_type = "postgres"
    types = {**Engine.types, "timestamp": "TIMESTAMP WITH TIME ZONE"}

    def start(self, workdir: Path) -> None:
        import psycopg

        self.schema = f"wh_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(URI, connect_timeout=5, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {self.schema}")
        except psycopg.OperationalError as error:
            raise EngineUnavailable(f"PostgreSQL is not reachable at {URI}: {error}") from error

    def stop(self) -> None:
        import psycopg

        with psycopg.connect(URI, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {self.schema} CASCADE")

    def connection(self) -> dict[str, Any]:
        from demo.warehouse import postgres_connection

        found = json.loads(postgres_connection(URI))
        found["extra"] = {**found.get("extra", {}), "options": f"-c search_path={self.schema}"}
        return found

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(URI, options=f"-c search_path={self.schema}")


ENGINES = (PostgreSQL(),)
