"""What the tests need from Airflow's internals, for every supported Airflow (3.1, 3.2, 3.3).

Every test that reaches past Airflow's public API goes through this module, so a new Airflow
release that moves something breaks it in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

AIRFLOW = Version(AIRFLOW_VERSION)

__all__ = [
    "AIRFLOW",
    "connection_form",
    "connection_form_labels_choices",
    "connections_test_exit_code_reports_failure",
    "fresh_providers_managers",
    "load_dag",
    "parse_dags",
    "record_masked_secrets",
    "redact",
    "write_dags_to_db",
    "rendered_fields",
    "xcom_values",
]


def _dagbag(path: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag  # 3.2 and later
    except ImportError:
        from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(path))


def load_dag(path: Path, dag_id: str) -> Any:
    """The DAG ``dag_id`` parsed from ``path`` by Airflow's DagBag."""
    dag = _dagbag(path).get_dag(dag_id)
    assert dag is not None, f"no DAG {dag_id} in {path}"
    return dag


def parse_dags(path: Path) -> tuple[list[str], dict[str, str]]:
    """The DAG ids Airflow's DagBag finds in ``path``, and its import errors."""
    dagbag = _dagbag(path)
    return dagbag.dag_ids, dagbag.import_errors


def write_dags_to_db() -> None:
    """Write the DAGs of every configured bundle to the metadata database, as the dag-processor does.

    ``dag.test()`` writes a DAG only on its first run before apache/airflow#64884 (3.1, 3.2): a test
    whose DAG changed since an earlier test of the session (its Asset's account, say) calls this
    first, or the task's outlets are inactive assets and no asset event is recorded.
    """
    try:
        from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db  # 3.2 and later
    except ImportError:
        from airflow.models.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        sync_bag_to_db(BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path), bundle.name, bundle.version)


def connections_test_exit_code_reports_failure() -> bool:
    """Whether ``airflow connections test`` exits non-zero when the test fails (before 3.3.2 it exits 0)."""
    return AIRFLOW >= Version("3.3.2")


def redact(value: Any) -> Any:
    """Airflow's secrets masker applied to ``value``, as the task log applies it."""
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    return airflow_redact(value)


def record_masked_secrets(monkeypatch: Any) -> list[Any]:
    """From here on, record every value a connection's ``extra_dejson`` hands to Airflow's secrets
    masker instead of registering it; the list of them.

    A connection read outside a task is the Task SDK's (masking through ``airflow.sdk.log``) on 3.2
    and later, the metadata model's (masking through its own import of the shared masker) on 3.1:
    both are recorded, so a test sees what either hands over.
    """
    import airflow.models.connection
    import airflow.sdk.log

    masked: list[Any] = []

    def record(secret: Any, name: str | None = None) -> None:
        masked.append(secret)

    monkeypatch.setattr(airflow.sdk.log, "mask_secret", record)
    monkeypatch.setattr(airflow.models.connection, "mask_secret", record)
    return masked


def fresh_providers_managers(monkeypatch: Any) -> tuple[Any, Any]:
    """The server's and the task runtime's providers managers, reset to discover from scratch.

    Both are process-wide singletons. Before 3.2 one ``ProvidersManager`` serves both.
    """
    from airflow.providers_manager import ProvidersManager

    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:
        ProvidersManagerTaskRuntime = ProvidersManager
    for manager in {ProvidersManager, ProvidersManagerTaskRuntime}:
        if hasattr(manager, "_instance"):
            monkeypatch.setattr(manager, "_instance", None)
        else:  # before 3.2: airflow.utils.singleton.Singleton keeps the instances
            monkeypatch.delitem(type(manager)._instances, manager, raising=False)
        monkeypatch.setattr(manager, "_initialized", False)
    return ProvidersManager, ProvidersManagerTaskRuntime


def connection_form(connection_type: str, monkeypatch: Any) -> dict[str, Any]:
    """The connection form the UI gets for ``connection_type``: what the API server's
    ``/ui/connections/hook_meta`` answers, from providers discovered afresh."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    fresh_providers_managers(monkeypatch)
    HookMetaService.hook_meta_data.cache_clear()
    try:
        [meta] = [meta for meta in HookMetaService.hook_meta_data() if meta.connection_type == connection_type]
    finally:
        HookMetaService.hook_meta_data.cache_clear()
    return meta.model_dump(mode="json")


def connection_form_labels_choices() -> bool:
    """Whether the connection form shows a label for each choice of a field (3.2 and later: the
    provider info's ``values_display``); 3.1's form has none, the field's description names them."""
    return AIRFLOW >= Version("3.2")


def xcom_values(run: Any) -> list[Any]:
    """The XCom values a DAG run stored in the metadata database."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id).all()
        return [row.value for row in rows]


def rendered_fields(run: Any) -> dict[str, Any]:
    """The rendered template fields a DAG run's one task stored in the metadata database."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter(
                RenderedTaskInstanceFields.dag_id == run.dag_id,
                RenderedTaskInstanceFields.run_id == run.run_id,
            )
            .one()
        )
        return dict(row.rendered_fields)
