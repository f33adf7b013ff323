"""Start bqemulator (BigQuery's REST API over DuckDB) as a process of its own, offline.

At start the emulator installs DuckDB's ``spatial`` extension (for GEOGRAPHY) from the network,
and fails without it: here there is none, so the launcher replaces that one step with nothing.
GEOGRAPHY is then unusable; nothing the provider runs uses it.

``BigQueryHook`` reaches one address two ways: its client (jobs) adds BigQuery's ``/bigquery/v2``
path to the endpoint it is given, its DB-API cursor (query results, through Google's discovery
client) takes the endpoint as the whole base. The launcher serves the second at the first's path.

Query results asked for without ``formatOptions.useInt64Timestamp`` (as the hook's cursor asks)
carry each TIMESTAMP as float epoch seconds in BigQuery (``DataFormatOptions``: int64 microseconds
only when asked); the emulator always sends microseconds. The launcher answers as BigQuery does,
so the tests read what the hook reads from the real service.

``python tests/warehouses/_bqemulator.py PORT``
"""

from __future__ import annotations

import json
import sys
from typing import Any

API_PATH = "/bigquery/v2"


def main(port: int) -> None:
    from bqemulator import server
    from bqemulator.config import Settings
    from bqemulator.storage import engine

    engine.DuckDBEngine._load_spatial = lambda self: None  # type: ignore[method-assign]
    create_app = server.create_app
    server.create_app = lambda context: _under_api_path(create_app(context))  # type: ignore[assignment]
    server.run_forever(
        Settings(
            rest_port=port,
            grpc_port=0,
            default_project_id="clevertap-test",
            enable_format_extensions=False,  # avro: another download
            log_level="warning",
        )
    )


def _under_api_path(app: Any) -> Any:
    """``app``, also answering ``/projects/...`` as ``/bigquery/v2/projects/...``, and query
    results not asked for in microseconds with float seconds."""

    async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        if scope["path"].startswith("/projects/"):
            scope = {**scope, "path": API_PATH + scope["path"], "raw_path": None}
        if "/queries/" in scope["path"] and b"useInt64Timestamp=true" not in scope.get("query_string", b""):
            await app(scope, receive, _float_seconds(send))
        else:
            await app(scope, receive, send)

    return routed


def _float_seconds(send: Any) -> Any:
    """``send``, with the TIMESTAMP cells of a JSON answer's rows as float epoch seconds."""
    held: dict[str, Any] = {}
    body = bytearray()

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            held["start"] = message
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        content = bytes(body)
        try:
            answer = json.loads(content)
            fields = answer.get("schema", {}).get("fields", [])
            stamps = [position for position, field in enumerate(fields) if field.get("type") == "TIMESTAMP"]
            for row in answer.get("rows", []) if stamps else []:
                for position in stamps:
                    cell = row["f"][position]
                    if cell.get("v") is not None:
                        cell["v"] = repr(int(cell["v"]) / 1_000_000)
            content = json.dumps(answer).encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # not a JSON answer with rows: as it was
        start = held["start"]
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})

    return sending


if __name__ == "__main__":
    main(int(sys.argv[1]))
