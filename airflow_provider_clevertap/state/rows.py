"""One sync's rows of the state table, as the statements that write them (``writes``) need them.

Below both ``table`` (which reads the rows and delegates their writing) and ``writes``: neither
imports the other's class.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.state.dialects import check_sync_id, check_table_name, dialect_of


class SyncRows:
    """Where a sync's rows are, and since when this run writes them.

    :param hook: the source connection's SQL hook (the state table lives there).
    :param table: the state table, ``[schema.]table``.
    :param sync_id: the sync's name in the table.
    """

    def __init__(self, hook: Any, table: str, sync_id: str) -> None:
        self.hook = hook
        self.table = check_table_name(table, "state_table")
        self.sync_id = check_sync_id(sync_id)
        self.dialect = dialect_of(hook)
        # When this run started, by the database's clock (``SyncState.begin``): it replaces only older rows.
        self.started: Any = None
