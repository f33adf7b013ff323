"""
Daily deletion of the CleverTap profiles staged in ``staged_deletions``.

Deletes by identity the customers whose deletion was requested (for example right-to-erasure
requests). CleverTap deletes within 48 hours; a later upload of the same identity creates the
profile again, so stage deletions after the last upload.

- **A scheduled run** (daily at midnight UTC) deletes the requests of its data interval: the
  previous day.
- **A manual run** (the Trigger button, or ``airflow dags trigger clevertap_user_delete``, with no
  logical date) has no data interval: it deletes the requests made today (UTC) up to the moment it
  was triggered, the ones tonight's scheduled run would delete, without waiting for it. Tonight's
  run sends them again; deleting a deleted profile changes nothing.
- **To redo past days**, backfill them: each day gets its own run and interval,
  ``airflow backfill create --dag-id clevertap_user_delete --from-date 2026-11-23 --to-date 2026-11-23``
  deletes the requests of 2026-11-23. Not ``airflow dags trigger --logical-date``: the CLI plans a
  manual run's interval from the moment it is triggered (the latest whole day), and where the
  logical date is used (the REST API, the UI's Trigger form) a daily timetable's manual run covers
  the last whole day before it: logical date 2026-11-23 means 11-22 00:00 to 11-23 00:00.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow before 3.2 has it only in airflow.timetables
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator

MAX_CONCURRENCY = 3

with DAG(
    dag_id="clevertap_user_delete",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):
    # --8<-- [start:operator]
    CleverTapUserDeleteOperator(
        task_id="delete_profiles",
        clevertap_conn_id="clevertap_default",
        source_conn_id="warehouse",
        # A manual run has no data interval (its context has no data_interval_start): from the
        # start of the day it was triggered on up to that moment.
        sql="""
            {% if data_interval_start is defined and data_interval_start %}
              {% set start, end = data_interval_start, data_interval_end %}
            {% else %}
              {% set end = dag_run.run_after %}
              {% set start = end.replace(hour=0, minute=0, second=0, microsecond=0) %}
            {% endif %}
            SELECT customer_id FROM staged_deletions
            WHERE requested_at >= '{{ start.strftime("%Y-%m-%d %H:%M:%S") }}'
              AND requested_at < '{{ end.strftime("%Y-%m-%d %H:%M:%S") }}'
        """,
        identity_column="customer_id",
        identity_type="identity",
        max_concurrency=MAX_CONCURRENCY,
        pool="clevertap",
        pool_slots=MAX_CONCURRENCY,
    )
    # --8<-- [end:operator]
