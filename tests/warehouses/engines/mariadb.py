"""MariaDB (127.0.0.1:3306, root): a database of the test session's own, through each of the two
drivers Airflow's MySQL provider supports (its connection's extra ``client``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, ClassVar

from tests.warehouses.engines import Engine, EngineUnavailable

HOST = os.environ.get("CLEVERTAP_TEST_MARIADB_HOST", "127.0.0.1")
PORT = int(os.environ.get("CLEVERTAP_TEST_MARIADB_PORT", "3306"))
USER = os.environ.get("CLEVERTAP_TEST_MARIADB_USER", "root")


class MariaDB(Engine):
    conn_type = "mysql"
    quote_char = "`"
    client: ClassVar[str]  # the provider's name of the driver
    types = {**Engine.types, "key": "VARCHAR(2000) CHARACTER SET utf8mb4", "timestamp": "DATETIME(6)"}

    def cast(self, expression: str, kind: str) -> str:
        return f"CAST({expression} AS SIGNED)" if kind == "integer" else super().cast(expression, kind)

    def start(self, workdir: Path) -> None:
        self.database = f"clevertap_{uuid.uuid4().hex[:10]}"
        try:
            self._on_server(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")
        except Exception as error:  # each driver has its own errors, and may be missing
            raise EngineUnavailable(f"MariaDB is not reachable at {HOST}:{PORT} ({self.client}): {error}") from error

    def stop(self) -> None:
        self._on_server(f"DROP DATABASE IF EXISTS {self.database}")

    def _on_server(self, statement: str) -> None:
        connection = self._connect(None)
        try:
            cursor = connection.cursor()
            cursor.execute(statement)
            cursor.close()
        finally:
            connection.close()

    def connection(self) -> dict[str, Any]:
        return {
            "conn_type": "mysql",
            "host": HOST,
            "port": PORT,
            "login": USER,
            "schema": self.database,
            "extra": {"client": self.client},
        }

    def connect(self) -> Any:
        return self._connect(self.database)

    def _connect(self, database: str | None) -> Any:
        raise NotImplementedError


class MySQLClient(MariaDB):
    name = "mariadb-mysqlclient"
    client = "mysqlclient"

    def _connect(self, database: str | None) -> Any:
        import MySQLdb

        return MySQLdb.connect(host=HOST, port=PORT, user=USER, database=database or "", charset="utf8mb4")


class MySQLConnector(MariaDB):
    name = "mariadb-connector"
    client = "mysql-connector-python"

    def _connect(self, database: str | None) -> Any:
        import mysql.connector

        return mysql.connector.connect(host=HOST, port=PORT, user=USER, database=database, charset="utf8mb4")


ENGINES = (MySQLClient(), MySQLConnector())
