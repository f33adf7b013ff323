"""`make airflow`: a local Airflow with this provider, the CleverTap emulator and a staged warehouse.

Starts the emulator, builds the SQLite warehouse of ``make demo`` (staged customers, orders and
deletions) once, prepares an Airflow home under ``.airflow/`` (its metadata database, the
``clevertap`` pool, the ``clevertap_default`` and ``warehouse`` connections, the Test button on)
and runs ``airflow standalone`` on free ports with the example DAGs. Prints the UI's address and
login once the UI answers. Ctrl-C, or ``make airflow-stop`` (``python -m demo.local_airflow --stop``)
from another terminal, stops every process it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from airflow_provider_clevertap.emulator import CleverTapEmulator
from demo.orders import stage_orders
from demo.warehouse import build_warehouse

ROOT = Path(__file__).resolve().parents[1]
# CLEVERTAP_AIRFLOW_DIR: another place for it (the tests use a temporary directory).
WORK = Path(os.environ.get("CLEVERTAP_AIRFLOW_DIR") or ROOT / ".airflow").resolve()
PID_FILE = "launcher.pid"  # the launcher's pid, for --stop
STANDALONE_PID_FILE = "standalone.pid"  # the process group airflow standalone leads
USER = "admin"
CUSTOMERS, ORDERS, DELETIONS = 3000, 500, 20
READY_TIMEOUT = 600.0  # seconds for the UI to answer, on a busy machine
STOP_TIMEOUT = 60.0  # seconds for the components to stop before they are killed


class Stop(Exception):
    """Ctrl-C or ``--stop``: shut everything down."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def airflow_env(work: Path, api_port: int) -> dict[str, str]:
    """The environment of every Airflow command: its home, ports, the example DAGs, the Test button."""
    home = work / "airflow"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(work / "passwords.json"),
            # airflow standalone starts its components as `airflow ...`: this interpreter's.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def password(work: Path) -> str:
    """The UI password of ``admin``: made once, kept in ``passwords.json`` (Airflow's simple auth manager)."""
    path = work / "passwords.json"
    if not path.exists():
        path.write_text(json.dumps({USER: secrets.token_urlsafe(12)}))
    return str(json.loads(path.read_text())[USER])


def airflow(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "airflow", *args], env=env, check=True, capture_output=True, text=True)


def prepare(work: Path, env: dict[str, str], emulator: CleverTapEmulator) -> Path:
    """The warehouse (built once), the metadata database, the pool and both connections."""
    warehouse = work / "warehouse.db"
    if not warehouse.exists():
        interval_start = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        build_warehouse(warehouse, CUSTOMERS, interval_start, deletions=DELETIONS)
        stage_orders(warehouse, ORDERS, CUSTOMERS, interval_start)
    connections = work / "connections.json"
    connections.write_text(
        json.dumps(
            {
                "clevertap_default": json.loads(emulator.connection_json()),
                "warehouse": {"conn_type": "sqlite", "host": str(warehouse)},
            }
        )
    )
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", "clevertap", "15", "CleverTap: concurrent requests per account")
    airflow(env, "connections", "import", "--overwrite", str(connections))
    return warehouse


def wait_for_ui(url: str, standalone: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if standalone.poll() is not None:
            raise SystemExit(f"airflow standalone exited ({standalone.returncode}): see its output above")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise SystemExit(f"The Airflow UI did not answer at {url} within {READY_TIMEOUT:.0f} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for airflow standalone (it stops its components), then SIGKILL for whatever is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a task runner or component that outlived it
    except ProcessLookupError:
        pass
    process.wait()


def run(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / PID_FILE).write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    api_port = free_port()
    env = airflow_env(work, api_port)
    login = password(work)
    standalone: subprocess.Popen[bytes] | None = None
    try:
        with CleverTapEmulator(
            account_id="LOCAL-ACCOUNT", passcode=secrets.token_urlsafe(16), db_path=work / "clevertap.db"
        ) as emulator:
            print(f"CleverTap emulator at {emulator.url}; preparing Airflow in {work} ...", flush=True)
            warehouse = prepare(work, env, emulator)
            # A process group of its own: stopped as a whole, whatever Ctrl-C reaches.
            standalone = subprocess.Popen(
                [sys.executable, "-m", "airflow", "standalone"],
                env=env,
                stdout=(work / "standalone.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            (work / STANDALONE_PID_FILE).write_text(str(standalone.pid))
            url = f"http://127.0.0.1:{api_port}"
            wait_for_ui(url, standalone)
            print(
                f"Airflow is ready at {url}  (login: {USER} / {login})\n"
                f"  DAGs: example_dags/ (start with clevertap_first_sync); the warehouse: {warehouse}\n"
                f"  connections clevertap_default (the emulator) and warehouse, pool clevertap (15 slots)\n"
                f"  logs: {work / 'standalone.log'}\n"
                "Stop with Ctrl-C, or `make airflow-stop` from another terminal.",
                flush=True,
            )
            while standalone.poll() is None:
                time.sleep(1)
            print(f"airflow standalone exited ({standalone.returncode}): see {work / 'standalone.log'}")
    except Stop:
        print("Stopping Airflow and the emulator ...", flush=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        if standalone is not None:
            stop_group(standalone)
        (work / PID_FILE).unlink(missing_ok=True)
        (work / STANDALONE_PID_FILE).unlink(missing_ok=True)
    print("Stopped.", flush=True)


def stop(work: Path) -> None:
    """``--stop``: SIGTERM to the running launcher, then wait until it has stopped everything."""
    pid_file = work / PID_FILE
    if not pid_file.exists():
        print(f"No local Airflow is running from {work}")
        return
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print(f"No local Airflow is running from {work} (removed a stale pid file)")
        return
    deadline = time.monotonic() + STOP_TIMEOUT * 2
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print("Stopped." if not pid_file.exists() else f"The launcher (pid {pid}) is still stopping")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.local_airflow", description=__doc__.splitlines()[0])
    parser.add_argument("--stop", action="store_true", help="stop the local Airflow started from this checkout")
    args = parser.parse_args(argv)
    (stop if args.stop else run)(WORK)


if __name__ == "__main__":
    main()
