"""The floors pyproject.toml declares are the versions `make matrix VERSIONS=minimum` installs and tests."""

from __future__ import annotations

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
