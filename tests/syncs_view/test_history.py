"""What identifies a CleverTap sync in Airflow's records."""

from __future__ import annotations

import airflow_provider_clevertap.operators as operators
from airflow_provider_clevertap.syncs_view.history import KINDS


def test_every_clevertap_operator_has_a_kind_under_the_name_airflow_records():
    # task_instance.operator holds the operator's class name: a new operator must be listed.
    assert set(KINDS) == set(operators.__all__)
