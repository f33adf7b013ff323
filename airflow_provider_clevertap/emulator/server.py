"""Starting and stopping an emulator: uvicorn serving the app from a background thread."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from airflow_provider_clevertap.emulator.app import EmulatorApp
from airflow_provider_clevertap.emulator.faults import EmulatorFaults
from airflow_provider_clevertap.emulator.state import EmulatorState
from airflow_provider_clevertap.emulator.stats import EmulatorStats

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
# Requests still running this long after stop() are cut (their connections closed); those
# waiting on latency or slow faults are cut at once.
_GRACE_PERIOD = 1
# Longer than any client pool keeps a connection idle, so that clients reusing a session never
# race the server closing it; stop() closes idle connections anyway.
_KEEP_ALIVE = 120


class CleverTapEmulator:
    """A local stand-in for CleverTap's API, for tests, demos and benchmarks.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with CleverTapEmulator(faults=EmulatorFaults(latency=0.05)) as emu:
            os.environ["AIRFLOW_CONN_CLEVERTAP_DEFAULT"] = emu.connection_json()
            ...
            assert emu.stats.max_in_flight <= 15

    Profiles and counters survive :meth:`stop`, so they can be inspected after a run.

    :param account_id: the account id requests must send in ``X-CleverTap-Account-Id``.
    :param passcode: the passcode requests must send in ``X-CleverTap-Passcode``.
    :param faults: the faults to inject; None for a healthy server.
    :param host: the address to listen on (loopback by default).
    :param port: the port to listen on; 0 picks a free one (read it from :attr:`url`).
    :param db_path: an SQLite file to keep profiles in (loaded at start, written as they
        change); None keeps them in memory only.
    """

    def __init__(
        self,
        account_id: str = "TEST-ACCOUNT",
        passcode: str = "test-passcode",
        faults: EmulatorFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.db_path = db_path
        self._state = EmulatorState(account_id, passcode, faults or EmulatorFaults())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> CleverTapEmulator:
        """Start serving in a background thread; return once requests are answered."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        sock = _listen(self.host, self.port)
        if self.db_path is not None:
            self._state.open_store(self.db_path)
        app = EmulatorApp(self._state)
        config = uvicorn.Config(
            app,
            lifespan="off",
            # None: leave the host application's logging (Airflow's, pytest's) alone.
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=_KEEP_ALIVE,
            timeout_graceful_shutdown=_GRACE_PERIOD,
        )
        server = _Server(config, app)
        name = f"clevertap-emulator-{sock.getsockname()[1]}"
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(_STOP_TIMEOUT)
                sock.close()
                self._state.close_store()
                raise RuntimeError("the CleverTap emulator failed to start (see the log)")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock
        self._url = _url(self.host, sock.getsockname()[1])
        return self

    def stop(self) -> None:
        """Stop serving and wait until the thread and every socket are gone. Idempotent."""
        if self._thread is None:
            return
        assert self._server is not None and self._socket is not None
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT + _GRACE_PERIOD)
        if self._thread.is_alive():
            raise RuntimeError("the CleverTap emulator did not stop in time")
        self._socket.close()
        self._state.close_store()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> CleverTapEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        if self._url is None:
            raise RuntimeError("the emulator has not been started")
        return self._url

    @property
    def account_id(self) -> str:
        return self._state.account_id

    @property
    def passcode(self) -> str:
        return self._state.passcode

    def connection_json(self) -> str:
        """The Airflow connection to use, as JSON for ``AIRFLOW_CONN_CLEVERTAP_DEFAULT``."""
        return json.dumps(
            {"conn_type": "clevertap", "login": self.account_id, "password": self.passcode, "host": self.url}
        )

    # -- control and inspection ----------------------------------------------------------------

    @property
    def faults(self) -> EmulatorFaults:
        return self._state.faults

    def configure(
        self, *, account_id: str | None = None, passcode: str | None = None, faults: EmulatorFaults | None = None
    ) -> None:
        """Change credentials and/or faults, running or not (e.g. a passcode rotated mid-run).

        ``faults`` replaces the whole fault set; arguments left as None keep their value.
        """
        self._state.configure(account_id=account_id, passcode=passcode, faults=faults)

    def reset(self) -> None:
        """Forget profiles and counters, and number requests from 1 again."""
        self._state.reset()

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        """Copies of the stored profiles, keyed by identity (by guid for objectId-only ones).

        Each holds ``identity``, ``guid``, ``ts`` and ``profileData``.
        """
        return self._state.profiles()

    def profile(self, identity: str) -> dict[str, Any] | None:
        """A copy of the profile with this identity; None when there is none."""
        return self._state.get_profile(identity=identity)

    def events(self, identity: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Copies of the stored events (each the record as sent), by the identity of their
        profile (guid for objectId-only ones); only ``identity``'s when given."""
        return self._state.events(identity)

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters (see :class:`EmulatorStats`)."""
        return self._state.stats()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: EmulatorApp) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._app.interrupt_waits()
        await super().shutdown(sockets)
        # uvicorn cancels requests outliving the grace period (e.g. a client still sending its
        # body) but leaves their connections to the event loop's end: close them now, so that
        # stop() leaves no socket behind.
        for connection in list(self.server_state.connections):
            connection.transport.abort()


def _listen(host: str, port: int) -> socket.socket:
    # Binding here, not in uvicorn, makes port 0 work: the chosen port is known before serving.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
