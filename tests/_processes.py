"""The real Airflow processes (api-server, scheduler, dag-processor) a test starts, and stopping them.

Each component runs in a process group of its own, which holds the workers and task runners it
forks. They are stopped when the test's ``with`` block ends, however it ends, and also when the
test process itself dies first (killed, or interrupted where no ``finally`` runs): a guard
process (tests/_process_guard.py), started with them and outside the test's process group, holds
a pipe from the test process and stops every group once that pipe closes.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from _process_guard import STOPPED, signal_group

# How long the components get to exit on SIGTERM before they are killed.
STOP_TIMEOUT = 60.0
# An overall bound for one Airflow CLI command (a migration on a busy machine), not a wait.
CLI_TIMEOUT = 600.0
GUARD = Path(__file__).with_name("_process_guard.py")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def airflow_cli(env: dict[str, str], *args: str) -> str:
    """Run ``airflow ARGS`` in ``env`` and return its output; a failure or a hang fails the test with its output."""
    command = [sys.executable, "-m", "airflow", *args]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired as timed_out:
        pytest.fail(
            f"airflow {' '.join(args)} did not finish within {CLI_TIMEOUT:.0f} s\n{_text(timed_out.output)[-2000:]}"
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@contextmanager
def airflow_components(
    env: dict[str, str], log_dir: Path, components: Sequence[str] = ("api-server", "scheduler", "dag-processor")
) -> Iterator[list[Path]]:
    """Start each Airflow component in ``env``, its output in ``log_dir/COMPONENT.log``; the logs' paths.

    :param env: the components' whole environment (AIRFLOW_HOME, the metadata database, ...).
    :param log_dir: where each component's log file is written.
    :param components: the ``airflow`` subcommands to start.
    """
    commands = {component: [sys.executable, "-m", "airflow", component] for component in components}
    with process_groups(commands, env, log_dir) as logs:
        yield logs


@contextmanager
def process_groups(
    commands: dict[str, list[str]], env: dict[str, str], log_dir: Path, stop_timeout: float = STOP_TIMEOUT
) -> Iterator[list[Path]]:
    """Start each command in a process group of its own, its output in ``log_dir/NAME.log``; the logs' paths.

    :param commands: each command's argv, by the name of its log.
    :param env: the commands' whole environment.
    :param log_dir: where each command's log file is written.
    :param stop_timeout: how long the groups get to exit on SIGTERM before they are killed.
    """
    guard = subprocess.Popen(
        [sys.executable, str(GUARD), str(stop_timeout)], stdin=subprocess.PIPE, text=True, start_new_session=True
    )
    assert guard.stdin is not None
    processes: list[subprocess.Popen] = []
    logs = [log_dir / f"{name}.log" for name in commands]
    try:
        for command, log in zip(commands.values(), logs, strict=True):
            with log.open("w") as output:
                process = subprocess.Popen(
                    command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
                )
            processes.append(process)
            guard.stdin.write(f"{process.pid}\n")
            guard.stdin.flush()
        yield logs
    finally:
        stop_process_groups(processes, stop_timeout)
        guard.stdin.write(f"{STOPPED}\n")
        guard.stdin.close()
        guard.wait(timeout=STOP_TIMEOUT)


def stop_process_groups(processes: Iterable[subprocess.Popen], stop_timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM each process's group, give them all ``stop_timeout`` seconds to exit, then SIGKILL what is left."""
    processes = list(processes)
    for process in processes:
        signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
        # The leader may be gone while a worker it forked still runs: the group, not the leader.
        signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
