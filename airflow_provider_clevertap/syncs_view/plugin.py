"""The provider's Airflow plugin, registered through the ``airflow.plugins`` entry point: the syncs
view and, on Airflow 3.3.1 and 3.3.2 only, the Test icon's mend (``portless_test``).

Every Airflow process loads plugins, task runners included: this module imports nothing heavy.
The view's FastAPI app (which needs Airflow's API-server security modules) is built by the API
server at its first request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_clevertap.portless_test import Receive, Send, root_middlewares

URL_PREFIX = "/clevertap"


class SyncsViewApp:
    """An ASGI app that builds the view's FastAPI app at its first request and hands requests to it."""

    def __init__(self) -> None:
        self._app: Callable[..., Awaitable[None]] | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if self._app is None:
            from airflow_provider_clevertap.syncs_view.api import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class CleverTapSyncsPlugin(AirflowPlugin):
    """The syncs list in Airflow's Browse menu, a DAG's syncs on its page, a task's sync on the task's;
    on Airflow 3.3.1 and 3.3.2, the Test icon of a connection without a port working."""

    name = "clevertap_syncs"
    fastapi_apps = [{"app": SyncsViewApp(), "url_prefix": URL_PREFIX, "name": "CleverTap syncs"}]
    fastapi_root_middlewares = root_middlewares()
    external_views = [
        {
            "name": "CleverTap syncs",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "clevertap-syncs",
        },
        {
            "name": "CleverTap syncs",
            "href": f"{URL_PREFIX}/?dag_id={{DAG_ID}}",
            "destination": "dag",
            "url_route": "clevertap-dag-syncs",
        },
        {
            "name": "CleverTap sync",
            "href": f"{URL_PREFIX}/?dag_id={{DAG_ID}}&task_id={{TASK_ID}}",
            "destination": "task",
            "url_route": "clevertap-task-sync",
        },
    ]
