"""
A first sync of staged customers to CleverTap profiles: a dry run, then the real upload.

``dry_run`` sends every row with CleverTap's ``dryRun=1``: CleverTap checks each record and
stores nothing. It fails, and ``upload`` never starts, when more than 1% of the rows would
fail (``max_failed_ratio``); its log's summary line, a WARNING, counts them by CleverTap's
code (516: a phone not in E.164, ``+`` and the country code). ``upload`` then sends the same rows
for real and keeps the failed rows in ``clevertap_failed_rows``. Triggered by
hand; each run sends every row (an upload is an upsert). For a daily sync that sends only what
changed, see ``clevertap_user_sync``.
"""

from __future__ import annotations

# --8<-- [start:dag]
import pendulum
from airflow.sdk import DAG

from airflow_provider_clevertap.operators import CleverTapUserUploadOperator

# Aliases name CleverTap's own profile fields; every other column becomes a custom property.
CUSTOMERS_SQL = """
    SELECT customer_id, full_name AS "Name", email AS "Email", phone AS "Phone", plan, updated_at
    FROM staged_customers
"""

with DAG(
    dag_id="clevertap_first_sync",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # What both tasks share: the rows, and the pool of CleverTap's 15 requests per account
    # (one slot per request in flight: max_concurrency, 10 by default).
    default_args={
        "source_conn_id": "warehouse",
        "sql": CUSTOMERS_SQL,
        "identity_column": "customer_id",
        "ts_column": "updated_at",
        "max_failed_ratio": 0.01,
        "pool": "clevertap",
        "pool_slots": 10,
    },
    tags=["clevertap"],
    doc_md=__doc__,
):
    dry_run = CleverTapUserUploadOperator(task_id="dry_run", dry_run=True)
    upload = CleverTapUserUploadOperator(task_id="upload", failed_rows_table="clevertap_failed_rows")
    dry_run >> upload
# --8<-- [end:dag]
