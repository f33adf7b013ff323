"""The state of stateful syncs: what CleverTap accepted, kept in a table of the source warehouse.

``layout`` creates the state table and records its layout, ``table`` owns the SQL that reads the
state (the join of the user's query with it, the mirror's leavers), ``writes`` the SQL that
records in it and forgets, ``rows`` what both need of a sync, ``dialects`` the few differences
between warehouses, ``changes`` the fingerprints and the
confirmations a run collects, ``recorder`` their writing while the run goes, ``mirror`` the
deletion of profiles that left.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.state.dialects import SYNC_ID
from airflow_provider_clevertap.state.table import DEFAULT_STATE_TABLE, SyncState

SYNC_MODES = ("upsert", "changed", "mirror")


def default_sync_id(dag_id: str, task_id: str, ti: Any, map_index_template: str | None) -> str:
    """``<dag_id>.<task_id>``, and for a mapped task its partition: ``[<rendered map index>]`` when
    the task names its partitions (``map_index_template``: a re-ordered mapping keeps each
    partition's state), else ``[<map index>]``. One partition's mirror never sees another's rows."""
    sync_id = f"{dag_id}.{task_id}"
    map_index = getattr(ti, "map_index", -1)
    if map_index is None or map_index < 0:
        return sync_id
    rendered = getattr(ti, "rendered_map_index", None) if map_index_template else None
    partition = f"{sync_id}[{rendered}]"
    return partition if rendered and SYNC_ID.fullmatch(partition) else f"{sync_id}[{map_index}]"


__all__ = ["DEFAULT_STATE_TABLE", "SYNC_MODES", "SyncState", "default_sync_id"]
