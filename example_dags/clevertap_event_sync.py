"""
Daily upload of the day's orders to CleverTap as ``Charged`` events, each order once.

Each order of the data interval becomes a ``Charged`` event of its customer, with ``Amount``,
``Currency`` and its ``Items`` (name, category, quantity, price). ``event_id_column`` makes the
sync record every order id CleverTap accepted (in ``clevertap_sync_state``): a re-run, a backfill
over days already sent, or a manual run send none of them again, and an order CleverTap refused is
sent again next run. A manual run has no data interval: it reads every staged order, and sends
only those CleverTap never accepted. Runs in the ``clevertap`` pool
(CleverTap's 15 concurrent requests per account are shared with profile uploads).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow before 3.2 has it only in airflow.timetables
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

from airflow_provider_clevertap.operators import CleverTapEventUploadOperator

MAX_CONCURRENCY = 5

with DAG(
    dag_id="clevertap_event_sync",
    # Daily at midnight UTC; each run covers its data interval's day.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):
    # --8<-- [start:operator]
    CleverTapEventUploadOperator(
        task_id="upload_orders",
        clevertap_conn_id="clevertap_default",
        source_conn_id="warehouse",
        sql="sql/staged_orders.sql",
        identity_column="customer_id",
        event_name="Charged",
        ts_column="ordered_at",
        event_id_column="order_id",
        property_columns={"order_id": "Order ID", "amount": "Amount", "currency": "Currency", "items": "Items"},
        max_concurrency=MAX_CONCURRENCY,
        max_failed_ratio=0.01,
        failed_rows_table="clevertap_failed_rows",
        pool="clevertap",
        pool_slots=MAX_CONCURRENCY,
        outlets=[Asset("clevertap_default_events")],
    )
    # --8<-- [end:operator]
