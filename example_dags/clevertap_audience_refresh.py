"""
Refresh a campaign audience after each successful profile sync.

Scheduled on the CleverTap profiles Asset that ``clevertap_user_sync`` declares as its outlet:
Airflow runs this DAG once the sync succeeded (a sync that fails, or refuses more rows than it
allows, emits no event). The asset event's extra carries the sync's counts; a dry run, or a sync
that stored nothing, refreshes nothing.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset, task

# The profiles of whichever account clevertap_default points at: named by the connection, not the
# Account ID, so the examples run unchanged against any account (clevertap_asset(<Account ID>)
# names the account, and the task then checks it against its connection).
# --8<-- [start:dag]
CLEVERTAP_PROFILES = Asset("clevertap_default_profiles")

with DAG(
    dag_id="clevertap_audience_refresh",
    schedule=[CLEVERTAP_PROFILES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["clevertap"],
    doc_md=__doc__,
):

    @task
    def refresh_audience(triggering_asset_events=None) -> dict[str, int]:
        """Sum what the triggering syncs stored; this is where a campaign audience would be rebuilt."""
        # Through common-compat, as the provider imports Airflow's names: 3.1's airflow.sdk.exceptions lacks it.
        from airflow.providers.common.compat.sdk import AirflowSkipException

        events = triggering_asset_events[CLEVERTAP_PROFILES] if triggering_asset_events else []
        stored = sum(event.extra.get("rows_accepted", 0) for event in events if not event.extra.get("dry_run"))
        if not stored:
            raise AirflowSkipException("The triggering syncs stored no profile: nothing to refresh")
        print(f"Refreshing the campaign audience: {stored} profiles updated by {len(events)} sync(s)")
        return {"profiles_updated": stored, "syncs": len(events)}

    refresh_audience()
# --8<-- [end:dag]
