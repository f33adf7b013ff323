"""Every example DAG imports cleanly: no import errors, no deprecation warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from _airflow_compat import parse_dags

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
DAG_FILES = sorted(EXAMPLE_DAGS.glob("*.py"))


def test_there_are_example_dags():
    assert {path.stem for path in DAG_FILES} >= {
        "clevertap_user_sync",
        "clevertap_user_delete",
        "clevertap_partitioned_sync",
    }


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_example_dag_imports_without_errors_or_deprecations(dag_file):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dag_ids, import_errors = parse_dags(dag_file)
    assert import_errors == {}
    assert dag_ids == [dag_file.stem]
    deprecations = [
        str(w.message)
        for w in caught
        if issubclass(w.category, DeprecationWarning) or "Deprecat" in w.category.__name__
    ]
    assert deprecations == []
