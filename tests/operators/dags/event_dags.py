"""DAGs of the event-upload tests, run with ``dag.test()`` through Airflow's real task runner.

The warehouse connection and the tables' prefix come from the environment the test sets before
the file is parsed (``EVENTS_TEST_SOURCE``, ``EVENTS_TEST_PREFIX``), so one file serves SQLite and
PostgreSQL.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapEventUploadOperator, CleverTapUserDeleteOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
SOURCE = os.environ.get("EVENTS_TEST_SOURCE", "warehouse")
PREFIX = os.environ.get("EVENTS_TEST_PREFIX", "t")
ORDERS, ITEMS, STATE = f"{PREFIX}_orders", f"{PREFIX}_items", f"{PREFIX}_state"
FAILED, DELETIONS = f"{PREFIX}_failed", f"{PREFIX}_deletions"
SQL = f"SELECT order_id, customer_id, kind, amount, note, ordered_at FROM {ORDERS}"
# The JSON of each order's items: SQLite gives text, PostgreSQL a list of objects.
ITEMS_JSON = {
    "warehouse": "json_group_array(json_object('Name', i.name, 'Quantity', i.quantity))",
    "warehouse_pg": "json_agg(json_build_object('Name', i.name, 'Quantity', i.quantity))",
}.get(SOURCE, "NULL")
EVENTS = {
    "source_conn_id": SOURCE,
    "identity_column": "customer_id",
    "event_name_column": "kind",
    "ts_column": "ordered_at",
    "state_table": STATE,
    "failed_rows_table": FAILED,
    "batch_size": 10,
    "max_concurrency": 2,
    "max_failed_ratio": 1.0,
}

with DAG(dag_id="event_sync", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(task_id="upload", sql=SQL, event_id_column="order_id", **EVENTS)

with DAG(dag_id="event_sync_dry_run", schedule=None, start_date=START, catchup=False):
    # The same sync as event_sync (same state), validating only.
    CleverTapEventUploadOperator(
        task_id="upload", sql=SQL, event_id_column="order_id", sync_id="event_sync.upload", dry_run=True, **EVENTS
    )

with DAG(dag_id="event_sync_without_ids", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(task_id="upload", sql=SQL, **EVENTS)

with DAG(dag_id="event_sync_one_at_a_time", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(
        task_id="upload", sql=SQL, event_id_column="order_id", **{**EVENTS, "max_concurrency": 1}
    )

with DAG(dag_id="event_sync_at_the_limit", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(task_id="upload", sql=SQL, **{**EVENTS, "max_concurrency": 15})

with DAG(dag_id="event_window", schedule="@daily", start_date=START, catchup=False):
    # Each run reads its day and the day before: consecutive runs overlap by a day.
    CleverTapEventUploadOperator(
        task_id="upload",
        sql=f"{SQL} WHERE ordered_at >= '{{{{ macros.ds_add(ds, -1) }}}}' "
        "AND ordered_at < '{{ macros.ds_add(ds, 1) }}'",
        event_id_column="order_id",
        **EVENTS,
    )

with DAG(dag_id="event_charged", schedule=None, start_date=START, catchup=False):
    CleverTapEventUploadOperator(
        task_id="upload",
        sql=f'SELECT o.order_id, o.customer_id, o.amount AS "Amount", o.ordered_at, {ITEMS_JSON} AS "Items" '
        f"FROM {ORDERS} o JOIN {ITEMS} i ON i.order_id = o.order_id "
        "GROUP BY o.order_id, o.customer_id, o.amount, o.ordered_at",
        event_name="Charged",
        event_id_column="order_id",
        **{key: value for key, value in EVENTS.items() if key != "event_name_column"},
    )

with DAG(dag_id="event_delete", schedule=None, start_date=START, catchup=False):
    CleverTapUserDeleteOperator(
        task_id="delete", source_conn_id=SOURCE, sql=f"SELECT identity FROM {DELETIONS}", state_table=STATE
    )
