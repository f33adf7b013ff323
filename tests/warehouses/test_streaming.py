"""mysqlclient's default cursor stores a whole result in memory before the first row is read: the
source reads through its unbuffered ``SSCursor`` instead, which knows no row count until the rows
are fetched."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.warehouse


def test_mysqlclient_rows_are_fetched_as_they_are_read(wh):
    if wh.engine.name != "mariadb-mysqlclient":
        pytest.skip("mysqlclient only")
    from airflow_provider_clevertap.sources import _streaming_cursor, get_sql_hook

    table = wh.create("numbers", [("identity", "key")], [(f"id-{n}",) for n in range(3)])
    connection = get_sql_hook(wh.conn_id).get_conn()
    try:
        cursor = _streaming_cursor(connection)
        cursor.execute(f"SELECT identity FROM {table}")
        assert cursor.rowcount in (-1, 2**64 - 1)  # not stored: unknown until read
        assert sorted(row[0] for row in cursor.fetchall()) == ["id-0", "id-1", "id-2"]
        cursor.close()
    finally:
        connection.close()
