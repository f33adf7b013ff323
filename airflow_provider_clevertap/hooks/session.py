"""The HTTP session's parts: header-only auth, a cancellable pooled adapter, the environment read once."""

from __future__ import annotations

import socket
import threading
import weakref
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


class CancellableAdapter(TCPKeepAliveAdapter):
    """A keep-alive adapter that remembers its connections, so ``abort()`` can cut requests in flight.

    Closing a session only closes idle pooled connections; a request waiting for its answer
    would otherwise hold its worker until the read timeout.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._aborted = False
        adapter = self

        def tracking(pool_class: type) -> type:
            class GuardedConnection(pool_class.ConnectionCls):  # type: ignore[name-defined]
                def connect(self) -> None:
                    super().connect()
                    adapter._refuse_if_aborted(self)

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

    def _refuse_if_aborted(self, connection: Any) -> None:
        # Under the lock abort() takes: a socket set before abort()'s look is shut down there,
        # one set after it is shut down here.
        with self._opened_lock:
            aborted = self._aborted
        if aborted:
            _shut_down(connection.sock)
            raise ConnectionAbortedError("the CleverTap session was cancelled")


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
