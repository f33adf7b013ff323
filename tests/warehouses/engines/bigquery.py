"""BigQuery through the Google provider's ``BigQueryHook``, on bqemulator run as a process of its own.

The hook is pointed at the emulator (``get_client_options``: it has no connection field for an
endpoint) with anonymous credentials; the session's tables live in a dataset of its own, and the
scenarios' table names are qualified with it (``table_name``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.warehouses.engines import Engine, EngineUnavailable

PROJECT = "clevertap-test"
LAUNCHER = Path(__file__).resolve().parents[1] / "_bqemulator.py"
START_TIMEOUT = 120.0  # the emulator imports DuckDB, SQLGlot and FastAPI: seconds on a busy machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    """Return once the emulator accepts connections; fail with its output if it exits or hangs."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"bqemulator exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)  # polling for the listening socket: no event to wait on across processes
    raise EngineUnavailable(f"bqemulator did not listen within {START_TIMEOUT:.0f} s: {log.read_text()[-2000:]}")


class BigQuery(Engine):
    name = "bigquery-emulator"
    conn_type = "gcpbigquery"
    requires = ("bqemulator", "airflow.providers.google.cloud.hooks.bigquery")
    quote_char = "`"
    types = {
        "text": "STRING",
        "key": "STRING",
        "integer": "INT64",
        "numeric": "NUMERIC",
        "timestamp": "TIMESTAMP",
    }

    def start(self, workdir: Path) -> None:
        try:
            import bqemulator  # noqa: F401
            from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
            from google.api_core.client_options import ClientOptions
        except ImportError as error:
            raise EngineUnavailable(f"bqemulator or the Google provider is not installed: {error}") from error
        port = _free_port()
        self.log = workdir / "bqemulator.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(LAUNCHER), str(port)], stdout=output, stderr=subprocess.STDOUT
            )
        _wait_until_listening(self.process, port, self.log)
        endpoint = f"http://127.0.0.1:{port}"
        self._saved_options = BigQueryHook.get_client_options
        BigQueryHook.get_client_options = lambda hook, api_endpoint_override=None: ClientOptions(api_endpoint=endpoint)
        self.dataset = f"wh_{uuid.uuid4().hex[:8]}"
        self.hook().run(f"CREATE SCHEMA {self.dataset}")

    def stop(self) -> None:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        BigQueryHook.get_client_options = self._saved_options
        self.process.terminate()
        self.process.wait(timeout=30)

    def connection(self) -> dict[str, Any]:
        return {
            "conn_type": "gcpbigquery",
            "extra": {"project": PROJECT, "is_anonymous": True, "use_legacy_sql": False, "location": "US"},
        }

    def hook(self) -> Any:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        os.environ["AIRFLOW_CONN_BQ_MATRIX_ENGINE"] = self.connection_json()
        hook = BigQueryHook(gcp_conn_id="bq_matrix_engine")
        hook.log_sql = False
        return hook

    def connect(self) -> Any:
        return self.hook().get_conn()

    def table_name(self, name: str) -> str:
        return f"{self.dataset}.{name}"

    def create_table(self, table: str, columns: Any, rows: Any) -> None:
        spec = ", ".join(f"{self.quote(name)} {self.types[kind]}" for name, kind in columns)
        self.execute(f"CREATE TABLE {table} ({spec})")
        for start in range(0, len(rows), 500):  # one DML job a statement: many rows each
            self.execute(
                f"INSERT INTO {table} VALUES {', '.join(self._literal_row(row) for row in rows[start : start + 500])}"
            )

    def execute(self, sql: str, rows: Any = None) -> None:
        if rows:
            for row in rows:
                self.execute(sql.replace("?", "{}").format(*(self._literal(value) for value in row)))
            return
        self.hook().run(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.hook().get_records(sql)]

    def _literal_row(self, row: Any) -> str:
        return f"({', '.join(self._literal(value) for value in row)})"

    @staticmethod
    def _literal(value: Any) -> str:
        """A value as a BigQuery literal, for the test's own SQL."""
        import datetime as dt
        import decimal

        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, decimal.Decimal):
            return f"NUMERIC '{value}'"
        if isinstance(value, dt.datetime):
            return f"TIMESTAMP '{value.isoformat()}'"
        text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
        return f"'{text}'"


ENGINES = (BigQuery(),)
