"""An auth manager with per-DAG permissions for the tests: Airflow's simple one, except that the
user ``partitions_reader`` may read only the DAG ``syncs_view_partitions``."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

RESTRICTED_USER = "partitions_reader"
READABLE_DAG = "syncs_view_partitions"


class OneDagAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        if user.username == RESTRICTED_USER and (details is None or details.id != READABLE_DAG):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
