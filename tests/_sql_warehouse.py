"""A test's own SQL on a real warehouse (a SQLite file or a PostgreSQL database), beside the DAGs'."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class SqlWarehouse:
    """How a test reaches the warehouse the DAGs under test read: connect, and its placeholder.

    :param kind: ``sqlite`` or ``postgres``.
    :param prefix: the test's own prefix of table names (unique on a shared PostgreSQL).
    :param connect: opens a DB-API connection.
    :param mark: the driver's parameter placeholder; tests write ``?``.
    """

    kind: str
    prefix: str
    connect: Callable[[], Any]
    mark: str

    def execute(self, sql: str, rows: Sequence[Sequence[Any]] | None = None) -> None:
        connection = self.connect()
        try:
            sql = sql.replace("?", self.mark)
            connection.cursor().executemany(sql, rows) if rows else connection.cursor().execute(sql)
            connection.commit()
        finally:
            connection.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            connection.close()

    def has_table(self, table: str) -> bool:
        try:
            self.query(f"SELECT COUNT(*) FROM {table}")
        except Exception:  # noqa: BLE001 - each driver has its own "no such table"
            return False
        return True
