"""The hook's cache of prepared requests gives the very request a fresh preparation gives.

``Transport._prepared`` merges the session's headers and auth into a request once per session,
method, endpoint and query, and each request is a copy of it with its own body (what it buys:
docs/benchmarks.md, "The speed shortcuts"). Here, on generated calls, each request the cache gives
is compared with the one ``Session.prepare_request`` builds from scratch at that moment.
"""

from __future__ import annotations

import string

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

queries = st.none() | st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3)
calls = st.tuples(
    st.sampled_from(["GET", "POST"]),
    st.sampled_from(["/1/upload", "/1/delete/profiles.json", "/1/profile.json"]),
    queries,
    st.none() | st.binary(max_size=64),
    # A header the caller adds to the session before the call (get_conn(headers=...)), or none.
    st.none() | st.tuples(st.sampled_from(["X-Request-Source", "X-Trace"]), st.text(string.ascii_letters, min_size=1)),
)


def _sent(request: requests.PreparedRequest) -> tuple[object, ...]:
    return request.method, request.url, dict(request.headers), request.body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(calls, min_size=1, max_size=6))
def test_a_request_from_the_cache_is_the_request_prepared_afresh(in1_connection, make_hook, sequence):
    hook = make_hook()
    session = hook.get_conn()
    for method, endpoint, query, body, header in sequence:
        if header is not None:
            session = hook.get_conn(headers=dict([header]))
        cached = hook._prepared(session, method, endpoint, query).copy()
        cached.prepare_body(body, None)
        fresh = session.prepare_request(
            requests.Request(method, hook.url_from_endpoint(endpoint), params=query, data=body)
        )
        assert _sent(cached) == _sent(fresh)
