"""The state table's SQL dialects, keyed by the SQL hook's connection type, and what reads them.

Everything else the state stage runs is SQL that PostgreSQL, SQLite, MariaDB/MySQL, DuckDB,
Snowflake and BigQuery all accept: CREATE TABLE IF NOT EXISTS, derived tables, LEFT JOIN, GROUP BY,
DELETE with IN lists, INSERT ... VALUES, CAST and CURRENT_TIMESTAMP. No MERGE, no locks. PostgreSQL
alone writes with ON CONFLICT (``json_upsert``), for a state of one row a key that is read without
an aggregate; the other warehouses' state may hold a key twice after overlapping runs.

What a dialect holds: ``state/dialect``; each family's values: ``state/families``. A stateful sync
runs only on a ``proven`` warehouse (the matrix of tests/warehouses runs it end to end) unless its
connection's extra says ``allow_unproven_warehouse``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow_provider_clevertap.flags import read_flag
from airflow_provider_clevertap.state.families.base import (
    ALLOW_UNPROVEN,
    DISPUTED,
    KEY_LENGTH,
    SYNC_ID,
    TABLE_NAME,
    Dialect,
)
from airflow_provider_clevertap.state.families.duckdb import DUCKDB
from airflow_provider_clevertap.state.families.mysql import MYSQL
from airflow_provider_clevertap.state.families.others import BIGQUERY, SNOWFLAKE, SQLITE
from airflow_provider_clevertap.state.families.postgres import POSTGRES, REDSHIFT

GENERIC = Dialect()
# Keyed by the SQL hook's conn_type.
DIALECTS = {
    "postgres": POSTGRES,
    "redshift": REDSHIFT,
    "snowflake": SNOWFLAKE,
    "sqlite": SQLITE,
    "mysql": MYSQL,
    "duckdb": DUCKDB,
    "gcpbigquery": BIGQUERY,
}


class Binding:
    """The parameters of one statement, in the style its driver binds: positional marks (the
    hook's placeholder) with a list, or named ``%(pN)s`` marks with a dict (``named_parameters``).

    :param hook: the SQL hook the statement runs on.
    """

    def __init__(self, hook: Any) -> None:
        self.dialect = dialect_of(hook)
        self._placeholder = hook.placeholder
        self._values: list[Any] = []

    def mark(self, value: Any) -> str:
        """Bind ``value``; return the mark that stands for it in the SQL."""
        self._values.append(value)
        return f"%(p{len(self._values) - 1})s" if self.dialect.named_parameters else self._placeholder

    def marks(self, values: Sequence[Any]) -> str:
        """Bind each of ``values``; their marks, comma-separated."""
        return ", ".join(self.mark(value) for value in values)

    def time(self, value: Any) -> str:
        """Bind a time (a datetime, or the warehouse's own text of one) as the warehouse takes it."""
        kind = self.dialect.timestamp_value
        if isinstance(value, dt.datetime) and kind == "naive" and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        elif isinstance(value, dt.datetime) and kind == "text":
            value = value.isoformat()
        return self.dialect.timestamp_parameter.format(mark=self.mark(value))

    @property
    def values(self) -> dict[str, Any] | list[Any]:
        if self.dialect.named_parameters:
            return {f"p{position}": value for position, value in enumerate(self._values)}
        return list(self._values)


def dialect_of(hook: Any) -> Dialect:
    """The dialect of a SQL hook, by its connection type; the generic one for any other."""
    return DIALECTS.get(str(getattr(hook, "conn_type", "") or ""), GENERIC)


def writes_beside_read(hook: Any) -> bool:
    """Whether the state can be committed while the source's read is open, on this connection."""
    query = dialect_of(hook).write_beside_read
    return query is None or hook.get_first(query) is not None


def check_table_name(name: str, role: str) -> str:
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise ValueError(f"{role} {name!r} is not a plain [schema.]table name")
    return name


def check_sync_id(sync_id: Any) -> str:
    if not isinstance(sync_id, str) or not SYNC_ID.fullmatch(sync_id):
        raise ValueError(f"sync_id {sync_id!r} must be 1 to 250 letters, digits or the characters _ . : - [ ]")
    return sync_id


def check_proven(hook: Any) -> None:
    """Refuse a stateful sync on a warehouse the matrix does not run, unless its connection allows
    it knowingly (extra ``allow_unproven_warehouse``): before anything is sent."""
    conn_type = str(getattr(hook, "conn_type", "") or "")
    if dialect_of(hook).proven or _allows_unproven(hook):
        return
    proven = ", ".join(sorted(name for name, dialect in DIALECTS.items() if dialect.proven))
    raise ValueError(
        f"Stateful syncs are proven on {proven}, not on connection type {conn_type or '(unknown)'!r}: its SQL "
        f"(keys compared byte for byte, the state's writes, its timestamps) is untested there. To run it "
        f'anyway, knowingly, set {{"{ALLOW_UNPROVEN}": true}} in the connection\'s extra.'
    )


def _allows_unproven(hook: Any) -> bool:
    conn_id = getattr(hook, str(getattr(hook, "conn_name_attr", "")), None)
    if not conn_id:
        return False
    return read_flag(hook.get_connection(conn_id).extra_dejson.get(ALLOW_UNPROVEN), ALLOW_UNPROVEN)


__all__ = [
    "ALLOW_UNPROVEN",
    "DIALECTS",
    "DISPUTED",
    "GENERIC",
    "KEY_LENGTH",
    "SYNC_ID",
    "TABLE_NAME",
    "Binding",
    "Dialect",
    "check_proven",
    "check_sync_id",
    "check_table_name",
    "dialect_of",
    "writes_beside_read",
]
