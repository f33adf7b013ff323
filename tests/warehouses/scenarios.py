"""What the matrix's scenarios share: the staged users, and the operators run as a task would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.warehouses.conftest import Warehouse

REFUSED_EMAIL = "not-an-email"  # the emulator refuses it (code 515), as CleverTap does
CONTEXT = {"run_id": "manual__warehouse-matrix"}


def stage_users(wh: Warehouse, identities: Sequence[str], refused: Sequence[str] = ()) -> str:
    """A users table (``n``, ``identity``, ``Email``, ``plan``); the ``refused`` get a bad email."""
    rows = [
        (n, identity, REFUSED_EMAIL if identity in refused else f"user{n}@example.com", "gold")
        for n, identity in enumerate(identities, start=1)
    ]
    columns = [("n", "integer"), ("identity", "key"), ("Email", "text"), ("plan", "text")]
    return wh.create("users", columns, rows)


def users_sql(wh: Warehouse) -> str:
    return f"SELECT identity, {wh.q('Email')}, plan FROM {wh.table('users')}"


def upload(wh: Warehouse, sync_mode: str = "changed", sql: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """One run of a profile upload of the staged users; its summary."""
    from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

    operator = CleverTapUserUploadOperator(
        task_id="upload",
        source_conn_id=wh.conn_id,
        sql=sql or users_sql(wh),
        state_table=wh.table("state"),
        sync_mode=sync_mode,
        sync_id="matrix.users",
        max_failed_ratio=1.0,
        **kwargs,
    )
    return operator.execute(CONTEXT)


def state_identities(wh: Warehouse, sync_id: str = "matrix.users") -> list[str]:
    """The identities the sync's state holds, each once."""
    rows = wh.query(f"SELECT identity FROM {wh.table('state')} WHERE sync_id = '{sync_id}'")
    identities = [row[0] for row in rows]
    assert len(set(identities)) == len(identities), "a key is held twice"
    return sorted(identities)


def accounted(summary: dict[str, Any]) -> bool:
    """Every row read is accepted, refused, invalid or unchanged."""
    return summary["rows_read"] == (
        summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"] + summary["rows_unchanged"]
    )
