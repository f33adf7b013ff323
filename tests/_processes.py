"""Stopping the real Airflow processes (api-server, scheduler, dag-processor) a test started."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable


def stop_process_groups(processes: Iterable[subprocess.Popen]) -> None:
    """SIGTERM each process's group, give them all a minute to exit, then SIGKILL what is left.

    Each process was started with ``start_new_session=True``: its group holds the workers and
    task runners it forked, which must not outlive the test.
    """
    processes = list(processes)
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
