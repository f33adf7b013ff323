"""Fixtures of the reliability suite: one emulator per module (reset and healthy before each test),
the ``clevertap_default`` connection pointing at it, task logs routed into ``caplog``, and a check
that no batch worker thread outlives its test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _reliability import ACCOUNT_ID, PASSCODE, wait_for_no_workers

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

CONTEXT_RUN_ID = "manual__2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def running_emulator() -> Iterator[CleverTapEmulator]:
    with CleverTapEmulator(account_id=ACCOUNT_ID, passcode=PASSCODE) as emulator:
        yield emulator


@pytest.fixture
def emu(running_emulator: CleverTapEmulator, monkeypatch) -> CleverTapEmulator:
    """The module's emulator: healthy, empty, with the original passcode, as ``clevertap_default``."""
    # A request the previous test gave up on (read timeout) may still be sleeping in the server:
    # let it finish first, or it would store its batch after the reset.
    deadline = time.monotonic() + 5
    while running_emulator.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    running_emulator.configure(account_id=ACCOUNT_ID, passcode=PASSCODE, faults=EmulatorFaults())
    running_emulator.reset()
    monkeypatch.setenv("AIRFLOW_CONN_CLEVERTAP_DEFAULT", running_emulator.connection_json())
    return running_emulator


@pytest.fixture
def context() -> dict[str, Any]:
    """The smallest task context ``execute`` needs."""
    return {"run_id": CONTEXT_RUN_ID}


@pytest.fixture(autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Every test ends with no CleverTap batch worker thread alive."""
    yield
    alive = wait_for_no_workers()
    assert not alive, f"worker threads left running: {[thread.name for thread in alive]}"


DAGS = Path(__file__).resolve().parent / "dags"


@pytest.fixture
def reliability_dags(dag_runner) -> Callable[..., Any]:
    """Run a DAG of ``tests/reliability/dags`` with ``dag.test()``; returns ``run(dag_id) -> DagRun``."""
    return dag_runner(DAGS / "reliability_dags.py")
