"""
Alert when a profile sync leaves too many rows behind, even when it passed its own threshold.

Scheduled on the Asset ``clevertap_user_sync`` updates: after each successful sync, the asset
event's extra carries its counts. The task fails (and Airflow's failure notifications, such as
``on_failure_callback`` or e-mail, fire) when the rows CleverTap refused plus the rows that were
invalid exceed ``ALERT_RATIO`` of the rows read. Which rows and why: the sync's log and the
``clevertap_failed_rows`` table.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

ALERT_RATIO = 0.001  # alert above 1 failed row in 1000

# --8<-- [start:alert]
with DAG(
    dag_id="clevertap_failed_rows_alert",
    schedule=[Asset("clevertap_default_profiles")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):

    @task
    def check_failed_rows(triggering_asset_events=None) -> dict[str, int]:
        """Fail when the triggering syncs' refused and invalid rows exceed ALERT_RATIO of the rows read."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        events = [event for events in (triggering_asset_events or {}).values() for event in events]
        read = sum(event.extra.get("rows_read", 0) for event in events)
        refused = sum(event.extra.get("rows_refused", 0) for event in events)
        invalid = sum(event.extra.get("rows_invalid", 0) for event in events)
        if read and (refused + invalid) / read > ALERT_RATIO:
            raise AirflowFailException(
                f"CleverTap sync: {refused} rows refused by CleverTap and {invalid} invalid of {read} read "
                f"(more than {ALERT_RATIO:.1%}); see the sync's log and clevertap_failed_rows"
            )
        return {"rows_read": read, "rows_refused": refused, "rows_invalid": invalid}

    check_failed_rows()
# --8<-- [end:alert]
