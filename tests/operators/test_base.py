"""Configuration problems the operators find before the first request fail the task for good
(``AirflowFailException``: Airflow does not retry, so nothing is sent twice)."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_clevertap.operators import CleverTapEventUploadOperator, CleverTapUserUploadOperator


@pytest.mark.parametrize(
    "option", [{"state_table": "state; DROP TABLE users"}, {"sync_id": "it's"}], ids=["state_table", "sync_id"]
)
def test_a_state_the_sync_cannot_use_fails_before_the_first_request(
    sqlite_warehouse, clevertap_connection, requests_mock, context, option
):
    operator = CleverTapUserUploadOperator(
        task_id="t", source_conn_id="warehouse", sql="SELECT 'u1' AS identity", sync_mode="changed", **option
    )
    with pytest.raises(AirflowFailException, match=next(iter(option))):
        operator.execute(context)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("table", ["failed; DROP TABLE users", "no_such_schema.failed"])
def test_a_failed_rows_table_that_cannot_be_written_fails_before_the_first_request(
    sqlite_warehouse, clevertap_connection, requests_mock, context, table
):
    operator = CleverTapEventUploadOperator(
        task_id="t",
        source_conn_id="warehouse",
        sql="SELECT 'u1' AS identity, 1767225600 AS ts",
        event_name="Signed Up",
        ts_column="ts",
        failed_rows_table=table,
    )
    with pytest.raises(AirflowFailException, match="failed_rows_table"):
        operator.execute(context)
    assert requests_mock.call_count == 0


def test_a_warehouse_that_cannot_be_reached_fails_as_an_error_airflow_retries(
    clevertap_connection, requests_mock, context, monkeypatch
):
    import socket

    from demo.warehouse import postgres_connection

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_UNREACHABLE", postgres_connection(f"postgresql://postgres@127.0.0.1:{port}/test"))
    operator = CleverTapUserUploadOperator(
        task_id="t", source_conn_id="unreachable", sql="SELECT 'u1' AS identity", failed_rows_table="failed"
    )
    with pytest.raises(Exception) as raised:
        operator.execute(context)
    assert not isinstance(raised.value, AirflowFailException)
    assert requests_mock.call_count == 0
