"""The HTTP session's parts: header-only auth, a cancellable pooled adapter with a deadline per
request, the environment read once."""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter


class HeaderAuthOnly(requests.auth.AuthBase):
    """The session's auth: CleverTap takes headers only, so no Authorization header goes out.

    Having an auth object on the session also stops requests from adding Basic auth from a
    ~/.netrc entry for the API host.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


class Deadline:
    """When one request's whole exchange must be over, and whether its connection was cut for it.

    :param at: the ``time.monotonic()`` of the end.
    """

    __slots__ = ("at", "connection", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.connection: Any = None  # the pooled connection the request uses, once it has one
        self.expired = False


class NoRedirectSession(requests.Session):
    """A session that never follows a redirect, whoever sends through it: the next request would
    carry the passcode header to another host (requests strips only Authorization)."""

    def get_redirect_target(self, response: requests.Response) -> None:
        return None


class CancellableAdapter(TCPKeepAliveAdapter):
    """A keep-alive adapter that remembers its connections, so ``abort()`` can cut requests in flight,
    and cuts the connection of a request whose ``deadline`` has passed.

    Closing a session only closes idle pooled connections; a request waiting for its answer
    would otherwise hold its worker until the read timeout. A read timeout bounds each wait for
    a byte, not the exchange: a server sending one byte a second holds a request for as long as
    it likes, unless something cuts it.
    """

    timeout: tuple[float, float] | None = None  # for a request sent without one (the hook sets it)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send as HTTPAdapter does, with ``timeout`` when the caller gave none."""
        if kwargs.get("timeout") is None and len(args) < 2:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._aborted = False
        # Each thread sends one request at a time: its deadline, and a watcher thread while any is set.
        self._deadlines: dict[int, Deadline] = {}
        self._deadlines_changed = threading.Condition(self._opened_lock)
        self._watcher: threading.Thread | None = None
        adapter = self

        def tracking(pool_class: type) -> type:
            class GuardedConnection(pool_class.ConnectionCls):  # type: ignore[name-defined]
                def connect(self) -> None:
                    super().connect()
                    adapter._refuse_if_aborted(self)
                    adapter._bind(self)

                def request(self, *args: Any, **kwargs: Any) -> Any:
                    adapter._bind(self)  # a pooled connection is reused without connecting again
                    return super().request(*args, **kwargs)

            class TrackingPool(pool_class):
                ConnectionCls = GuardedConnection

                def _new_conn(self) -> Any:
                    connection = super()._new_conn()
                    with adapter._opened_lock:
                        adapter._opened.add(connection)
                    return connection

            return TrackingPool

        manager = self.poolmanager
        manager.pool_classes_by_scheme = {
            scheme: tracking(pool_class) for scheme, pool_class in manager.pool_classes_by_scheme.items()
        }

    def abort(self) -> None:
        """Shut down every socket this adapter opened: a blocked send or read fails at once.

        Until ``reopen()``, a connection that connects afterwards is shut down before it sends a
        byte: a worker may be between its last look at the cancel flag and opening its socket.
        """
        with self._opened_lock:
            self._aborted = True
            connections = list(self._opened)
        for connection in connections:
            _shut_down(getattr(connection, "sock", None))

    def reopen(self) -> None:
        """Allow new connections again, for the next run of the same hook."""
        with self._opened_lock:
            self._aborted = False

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[Deadline]:
        """Cut the connection of the request this thread sends inside the block once ``seconds`` have
        passed: the blocked connect, send or read fails, and ``expired`` says why."""
        thread = threading.get_ident()
        deadline = Deadline(time.monotonic() + seconds)
        with self._opened_lock:
            self._deadlines[thread] = deadline
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="deadline-watch", daemon=True)
                self._watcher.start()
        try:
            yield deadline
        finally:
            with self._opened_lock:
                self._deadlines.pop(thread, None)

    def _bind(self, connection: Any) -> None:
        with self._opened_lock:
            deadline = self._deadlines.get(threading.get_ident())
            if deadline is not None:
                deadline.connection = connection
                if deadline.expired:
                    _shut_down(connection.sock)

    def _watch(self) -> None:
        """Cut each request's connection at its deadline; end when no request has one pending."""
        with self._deadlines_changed:
            while pending := [deadline for deadline in self._deadlines.values() if not deadline.expired]:
                first = min(pending, key=_end)
                remaining = first.at - time.monotonic()
                if remaining > 0:
                    # Every deadline is as long: one set later never ends sooner, so none wakes this.
                    self._deadlines_changed.wait(remaining)
                    continue
                first.expired = True  # a connection bound later (still connecting) is cut by _bind
                if first.connection is not None:
                    _shut_down(first.connection.sock)
            self._watcher = None

    def _refuse_if_aborted(self, connection: Any) -> None:
        # Under the lock abort() takes: a socket set before abort()'s look is shut down there,
        # one set after it is shut down here.
        with self._opened_lock:
            aborted = self._aborted
        if aborted:
            _shut_down(connection.sock)
            raise ConnectionAbortedError("the CleverTap session was cancelled")


def _end(deadline: Deadline) -> float:
    return deadline.at


def _shut_down(sock: socket.socket | None) -> None:
    if sock is not None:
        try:
            # socket.socket's own shutdown, also for TLS sockets: cut the TCP stream.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the proxy and CA bundle variables of the environment once, for every request to ``url``.

    requests reads them again for each request (walking ``os.environ`` twice); a task's
    environment does not change while it runs and every request goes to the one host, so the
    answer is the same each time. Settings of the connection (its ``proxies`` and ``verify``
    extras) keep precedence, as they would per request.
    """
    settings = session.merge_environment_settings(
        url, proxies=dict(session.proxies), stream=None, verify=session.verify, cert=None
    )
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.trust_env = False
