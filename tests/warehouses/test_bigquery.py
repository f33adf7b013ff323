"""BigQuery specifics: the cells the Google provider's cursor hands over read as BigQuery means them,
and the state written many rows a query job."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from airflow_provider_clevertap.cells import cell_readers, typed_rows
from tests.warehouses.engines.bigquery import BigQuery
from tests.warehouses.scenarios import stage_users, upload

pytestmark = pytest.mark.warehouse


def test_the_cursors_cells_from_bigquerys_rest_text_become_datetimes_and_decimals():
    """The text is what BigQuery's REST API answers when not asked for int64 timestamps (the hook's
    cursor never asks), cast by the provider's own ``bq_cast`` as its cursor does."""
    from airflow.providers.google.cloud.utils.bigquery import bq_cast

    schema = [("ts", "TIMESTAMP"), ("amount", "NUMERIC"), ("big", "BIGNUMERIC"), ("day", "DATE"), ("at", "DATETIME")]
    text = ["1.796562798123456E9", "37.5", "12345678901234567890.5", "2026-12-06", "2026-12-06T13:13:18.5"]
    cast = [bq_cast(value, kind) for value, (_, kind) in zip(text, schema, strict=True)]
    assert isinstance(cast[0], float) and cast[1] == "37.5"  # what the cursor returns

    description = [(name, kind, None, None, None, None, True) for name, kind in schema]
    [row] = typed_rows(iter([cast]), cell_readers("gcpbigquery", description))
    assert row == (
        dt.datetime(2026, 12, 6, 13, 13, 18, 123456, tzinfo=dt.timezone.utc),
        decimal.Decimal("37.5"),
        decimal.Decimal("12345678901234567890.5"),
        dt.date(2026, 12, 6),
        dt.datetime(2026, 12, 6, 13, 13, 18, 500000),
    )
    [nulls] = typed_rows(iter([[None] * 5]), cell_readers("gcpbigquery", description))
    assert nulls == (None,) * 5


@pytest.fixture
def bigquery_wh(wh):
    if not isinstance(wh.engine, BigQuery):
        pytest.skip("BigQuery only")  # the matrix's other engines run this module's first test
    return wh


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every statement the hook's cursor runs, each a query job (the cursor still runs them)."""
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryCursor

    noted: list[str] = []
    execute = BigQueryCursor.execute

    def noting(cursor, operation, parameters=None):
        noted.append(operation)
        return execute(cursor, operation, parameters)

    monkeypatch.setattr(BigQueryCursor, "execute", noting)
    return noted


def test_the_state_is_written_250_rows_a_query_job(bigquery_wh, emu, statements):
    """600 accepted records: three INSERT jobs into the state table, not 600. Once every row
    changed, the rows written before the run began (compared with its start, a TIMESTAMP) are
    replaced: two DELETE jobs of up to 500 keys, three INSERT jobs, 600 rows still."""
    wh = bigquery_wh
    state = wh.table("state")
    users = stage_users(wh, [f"user-{n:04d}" for n in range(600)])
    assert upload(wh)["rows_accepted"] == 600
    inserts = [sql for sql in statements if sql.startswith(f"INSERT INTO {state} ")]
    assert len(inserts) == 3
    assert wh.query(f"SELECT COUNT(*) FROM {state}") == [(600,)]

    wh.execute(f"UPDATE {users} SET plan = 'silver' WHERE TRUE")
    statements.clear()
    assert upload(wh)["rows_accepted"] == 600
    deletes = [sql for sql in statements if sql.startswith(f"DELETE FROM {state} ")]
    inserts = [sql for sql in statements if sql.startswith(f"INSERT INTO {state} ")]
    assert (len(deletes), len(inserts)) == (2, 3)
    assert wh.query(f"SELECT COUNT(*), COUNT(DISTINCT row_key) FROM {state}") == [(600, 600)]
    assert upload(wh)["rows_unchanged"] == 600


def test_the_failed_rows_are_written_150_rows_a_query_job(bigquery_wh, emu, statements):
    wh = bigquery_wh
    failed = wh.table("failed")
    users = [f"user-{n:04d}" for n in range(400)]
    stage_users(wh, users, refused=users)
    assert upload(wh, "upsert", failed_rows_table=failed)["rows_refused"] == 400
    inserts = [sql for sql in statements if sql.startswith(f"INSERT INTO {failed} (") and "VALUES" in sql]
    assert len(inserts) == 3
    assert wh.query(f"SELECT COUNT(*), COUNT(DISTINCT identity) FROM {failed}") == [(400, 400)]
