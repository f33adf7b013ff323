"""The floors pyproject.toml declares are the versions `make matrix VERSIONS=minimum` installs and tests."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _floors() -> dict[str, str]:
    # Read as text: tomllib is not in Python 3.10's standard library.
    project = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]
    return dict(re.findall(r'^\s*"(apache-airflow[a-z-]*)>=([0-9.]+)",', project, flags=re.MULTILINE))


def test_the_minimum_environment_pins_exactly_the_declared_floors():
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints" / "minimum.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert pins == _floors()
    assert set(pins) == {
        "apache-airflow",
        "apache-airflow-providers-http",
        "apache-airflow-providers-common-sql",
        "apache-airflow-providers-common-compat",
    }


def test_a_connection_with_a_passcode_is_read_when_connections_are_encrypted(clevertap_connection):
    """The suite runs with a Fernet key, as a deployment does: every supported set must read the
    connection through it (Airflow 3.1 cannot with cryptography 51: constraints/airflow-3.1.txt)."""
    from airflow.configuration import conf
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

    passcode = json.loads(os.environ["AIRFLOW_CONN_CLEVERTAP_DEFAULT"])["password"]
    assert conf.get("core", "fernet_key")
    assert not conf.getboolean("core", "unit_test_mode")
    assert BaseHook.get_connection("clevertap_default").password == passcode
    assert CleverTapHook().get_conn().headers["X-CleverTap-Passcode"] == passcode


def test_ci_runs_every_set_the_versions_page_names():
    ci = (ROOT / ".ci" / "run").read_text()
    matrix = re.search(r'^make matrix VERSIONS="([^"]+)"$', ci, flags=re.MULTILINE)
    assert matrix and re.search(r"^make test$", ci, flags=re.MULTILINE)
    page = (ROOT / "docs" / "airflow-versions.md").read_text().splitlines()
    table = [line for line in page if line.startswith("| 3.")]
    named = [entry for line in table for entry in re.findall(r"\(`(minimum|[0-9]+\.[0-9]+\.[0-9]+)`\)", line)]
    assert sorted(matrix.group(1).split()) == sorted(named)
