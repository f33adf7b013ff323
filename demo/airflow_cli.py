"""``python -m demo.airflow_cli ARGS``: the ``airflow`` command, with one fix for Airflow 3.1 and 3.2.

Before 3.3, Airflow's in-process execution API (what ``airflow dags test`` and ``dag.test()`` run
tasks through) schedules its start-up on its event loop without waiting for it, so the first
request can overtake it, and lets the started API be garbage-collected while its transport is in
use, which ends it: on 3.2.2 tasks then fail with ``'State' object has no attribute
'svcs_registry'``. Airflow 3.3 does both right; :func:`wait_for_in_process_api_startup` makes
the older versions wait for the start-up and keep the API as long as its transport. The demo and
the test suite both apply it from here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

STARTUP_TIMEOUT = 60.0  # seconds; it takes well under one


def wait_for_in_process_api_startup() -> None:
    """Make ``InProcessExecutionAPI.transport`` wait for the API to start and keep it (Airflow < 3.3)."""
    from airflow import __version__ as airflow_version
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI
    from packaging.version import Version

    # An attrs class with slots: its cached properties are computed by its __getattr__.
    compute = getattr(InProcessExecutionAPI, "__getattr__")  # noqa: B009 (mypy does not know attrs adds it)
    if Version(airflow_version) >= Version("3.3") or getattr(compute, "waits_for_startup", False):
        return

    def getattr_waiting_for_startup(api: Any, name: str) -> Any:
        if name != "transport":
            return compute(api, name)
        started = threading.Event()
        lifespan_context = api.app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def signalling_lifespan(app: Any) -> AsyncIterator[Any]:
            async with lifespan_context(app) as state:
                started.set()
                yield state

        api.app.router.lifespan_context = signalling_lifespan
        transport = compute(api, name)
        if not started.wait(STARTUP_TIMEOUT):
            # Its own start-up error is lost with the future Airflow does not keep (a missing
            # [api_auth] jwt_secret, say).
            raise RuntimeError(f"Airflow's in-process execution API did not start within {STARTUP_TIMEOUT:.0f} s")
        # The API keeps the started lifespan; callers keep only the transport, and when the API
        # was collected the lifespan ended under the running task.
        transport.in_process_api = api
        return transport

    getattr_waiting_for_startup.waits_for_startup = True  # type: ignore[attr-defined]
    setattr(InProcessExecutionAPI, "__getattr__", getattr_waiting_for_startup)  # noqa: B010


if __name__ == "__main__":
    from airflow.__main__ import main

    wait_for_in_process_api_startup()
    main()
