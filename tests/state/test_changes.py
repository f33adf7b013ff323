"""Fingerprints, the change filter, the confirmations a batch gives, and the operator's checks of
its stateful arguments (no database or HTTP needed for these)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator
from airflow_provider_clevertap.records import ProfileMapper
from airflow_provider_clevertap.responses import BatchResult, Refusal
from airflow_provider_clevertap.state import default_sync_id
from airflow_provider_clevertap.state.changes import UNCHANGED, ChangeFilter, Confirmed, fingerprint_key
from airflow_provider_clevertap.state.dialects import check_sync_id

COLUMNS = ["identity", "plan"]


def change_filter(options=("v1",)) -> ChangeFilter:
    return ChangeFilter(ProfileMapper(COLUMNS), fingerprint_key(list(options)), lambda record: record["identity"])


def sent(row, fp_min=None, fp_max=None, options=("v1",)):
    return change_filter(options).convert((*row, fp_min, fp_max, row[0], "row-hash"))


def test_a_row_is_unchanged_only_when_every_state_row_holds_its_fingerprint():
    identity, encoded, (key, fingerprint, row_hash, held, queried) = sent(("u1", "gold"))
    assert identity == key == queried == "u1" and b'"plan":"gold"' in encoded and row_hash == "row-hash"
    assert held is False  # a new key: nothing in the state to replace
    assert sent(("u1", "gold"), fingerprint, fingerprint) is UNCHANGED
    assert sent(("u1", "gold"), fingerprint, "f" * 32)[2][3] is True  # two runs disagreed: replaced
    assert sent(("u1", "free"), fingerprint, fingerprint)[2][3] is True  # the record changed


def test_the_mapping_options_are_part_of_the_fingerprint():
    *_, (_, one, *_) = sent(("u1", "gold"), options=("unix",))
    *_, (_, other, *_) = sent(("u1", "gold"), options=("clevertap_date",))
    assert one != other


def test_the_operator_fingerprints_every_mapping_option():
    def options(**kwargs):
        return CleverTapUserUploadOperator(task_id="t", source_conn_id="w", sql="SELECT 1", **kwargs).mapping_options()

    variants = [
        options(),
        options(property_columns=["plan"]),
        options(property_columns={"plan": "Plan"}),
        options(ts_column="updated_at"),
        options(convert_timestamps=False),
        options(timestamp_format="clevertap_date"),
        options(identity_type="clevertap_id"),
    ]
    assert len({fingerprint_key(variant) for variant in variants}) == len(variants)


def test_a_batch_confirms_its_items_but_the_refused_ones():
    confirmed = Confirmed()
    confirmed.note(
        BatchResult(["a", "b", "c"], [Refusal(1, 515, "bad email")], 1, [["ka", "fa"], ["kb", "fb"], ["kc", "fc"]])
    )
    confirmed.note(BatchResult(["d"], [], 1))  # a delete: no tags
    assert list(confirmed) == [["ka", "fa", "a"], ["kc", "fc", "c"], ["d"]]
    confirmed.close()


def test_a_batch_with_a_refusal_it_cannot_place_confirms_nothing():
    confirmed = Confirmed()
    confirmed.note(BatchResult(["a", "b"], [Refusal(None, None, "not stored")], 1, [["ka", "fa"], ["kb", "fb"]]))
    assert list(confirmed) == [] and confirmed.count == 0
    confirmed.close()


def test_the_default_sync_id_keeps_mapped_partitions_apart():
    assert default_sync_id("dag", "task", None, None) == "dag.task"
    assert default_sync_id("dag", "task", SimpleNamespace(map_index=-1), None) == "dag.task"
    assert default_sync_id("dag", "task", SimpleNamespace(map_index=3, rendered_map_index=None), None) == "dag.task[3]"
    named = SimpleNamespace(map_index=3, rendered_map_index="eu-west")
    assert default_sync_id("dag", "task", named, "{{ region }}") == "dag.task[eu-west]"
    assert default_sync_id("dag", "task", named, None) == "dag.task[3]"
    odd = SimpleNamespace(map_index=3, rendered_map_index="it's odd")  # not safe in SQL: the index
    assert default_sync_id("dag", "task", odd, "{{ x }}") == "dag.task[3]"


def test_a_sync_id_that_is_not_safe_in_sql_is_refused():
    with pytest.raises(ValueError, match="sync_id"):
        check_sync_id("x'; DROP TABLE users; --")


def test_stateful_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="sync_mode must be one of"):
        CleverTapUserUploadOperator(task_id="t", source_conn_id="w", sql="SELECT 1", sync_mode="merge")
    with pytest.raises(ValueError, match="needs sql and source_conn_id"):
        CleverTapUserUploadOperator(task_id="t", rows=[{"identity": "u1"}], sync_mode="changed")
    with pytest.raises(ValueError, match="needs identity_type 'identity'"):
        CleverTapUserUploadOperator(
            task_id="t", source_conn_id="w", sql="SELECT 1", sync_mode="mirror", identity_type="clevertap_id"
        )
    with pytest.raises(ValueError, match="max_delete_ratio"):
        CleverTapUserUploadOperator(task_id="t", source_conn_id="w", sql="SELECT 1", max_delete_ratio=1.5)
    with pytest.raises(ValueError, match="state_table needs source_conn_id"):
        CleverTapUserDeleteOperator(task_id="t", rows=[{"identity": "u1"}], state_table="clevertap_sync_state")
    with pytest.raises(ValueError, match="state_table needs identity_type 'identity'"):
        CleverTapUserDeleteOperator(
            task_id="t", source_conn_id="w", sql="SELECT 1", state_table="s", identity_type="clevertap_id"
        )


def test_a_templated_sync_mode_is_checked_once_rendered(sqlite_warehouse, clevertap_connection):
    operator = CleverTapUserUploadOperator(
        task_id="t", source_conn_id="warehouse", sql="SELECT 'u1' AS identity", sync_mode="{{ params.mode }}"
    )
    operator.sync_mode = "merge"  # what a run conf rendered
    with pytest.raises(ValueError, match="sync_mode must be one of"):
        operator.execute({"run_id": "r"})
