"""Fixtures of the lineage tests: an emulator per test account, and DAG runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_clevertap.emulator import CleverTapEmulator

RUN_DAG = Path(__file__).with_name("run_dag.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator() -> Iterator[CleverTapEmulator]:
    """An emulator whose account id is this test's own, so its Asset is too."""
    account = f"LINEAGE-{uuid.uuid4().hex[:8].upper()}"
    with CleverTapEmulator(account_id=account, passcode=f"lineage-passcode-{uuid.uuid4().hex}") as running:
        yield running


@pytest.fixture
def run_dag(airflow_db, emulator, tmp_path, monkeypatch) -> Callable[..., dict[str, Any]]:
    """Run a DAG in a subprocess with the OpenLineage file transport; return what Airflow recorded.

    The returned outcome has ``openlineage_events``: every event the real listener emitted.
    """
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", emulator.connection_json())
    monkeypatch.setenv("CLEVERTAP_ACCOUNT_ID", emulator.account_id)
    events_file = tmp_path / "openlineage.jsonl"

    def _run(
        dag_file: Path, dag_id: str, *, dags_folder: Path | None = None, without_openlineage: bool = False
    ) -> dict[str, Any]:
        env = {
            **os.environ,
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            # A bound, not a wait: the listener returns as soon as the event is written.
            "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "600",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or dag_file.parent),
            "PYTHONPATH": str(ROOT),
        }
        python = [sys.executable]
        if without_openlineage:
            # No site-packages but a copy of it without the OpenLineage provider and client: as if
            # they had never been installed (no modules, no entry points).
            env["PYTHONPATH"] = f"{_site_packages_without_openlineage(tmp_path)}:{ROOT}"
            python.append("-S")
        completed = subprocess.run(
            [*python, str(RUN_DAG), str(dag_file), dag_id, "2026-03-02T00:00:00+00:00"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        lines = [line for line in completed.stdout.splitlines() if line.startswith("OUTCOME ")]
        assert completed.returncode == 0 and lines, completed.stdout[-3000:] + completed.stderr[-5000:]
        # Another thread may have logged on the same line, after the JSON.
        outcome, _ = json.JSONDecoder().raw_decode(lines[-1].removeprefix("OUTCOME "))
        text = events_file.read_text() if events_file.exists() else ""
        outcome["openlineage_text"] = text
        outcome["openlineage_events"] = [json.loads(line) for line in text.splitlines() if line.strip()]
        outcome["log"] = completed.stdout + completed.stderr
        return outcome

    return _run


def _site_packages_without_openlineage(tmp_path: Path) -> Path:
    """A directory of links to every installed package but the OpenLineage ones."""
    import sysconfig

    site_packages = Path(sysconfig.get_paths()["purelib"])
    farm = tmp_path / "site-packages-without-openlineage"
    farm.mkdir()
    for entry in site_packages.iterdir():
        name = entry.name.lower().replace("-", "_")
        if not name.startswith(("openlineage", "apache_airflow_providers_openlineage")):
            (farm / entry.name).symlink_to(entry)
    # The namespace package airflow.providers is shared: link it piece by piece, openlineage left out.
    (farm / "airflow").unlink()
    (farm / "airflow").mkdir()
    for entry in (site_packages / "airflow").iterdir():
        if entry.name != "providers":
            (farm / "airflow" / entry.name).symlink_to(entry)
    (farm / "airflow" / "providers").mkdir()
    for entry in (site_packages / "airflow" / "providers").iterdir():
        if entry.name != "openlineage":
            (farm / "airflow" / "providers" / entry.name).symlink_to(entry)
    return farm


def task_events(outcome: dict[str, Any], job: str) -> dict[str, dict[str, Any]]:
    """The OpenLineage events of one task (``dag_id.task_id``), by eventType."""
    return {event["eventType"]: event for event in outcome["openlineage_events"] if event["job"]["name"] == job}
