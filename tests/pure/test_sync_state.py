"""Tests of payload hashes, the body envelope and external ids read from answers."""

import pytest

from bj_api_sync.engine.sync_state import (
    answer_items,
    external_id_of,
    external_ids,
    payload_hash,
    wrap,
)


def test_hash_is_stable_and_tells_changes_apart():
    assert payload_hash({"a": 1, "b": "x"}) == payload_hash({"a": 1, "b": "x"})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})
    assert payload_hash({"a": 1, "b": 2}) != payload_hash({"b": 2, "a": 1})  # key order is sent
    assert len(payload_hash({})) == 32


@pytest.mark.parametrize("envelope, body, wrapped", [
    ("data", {"a": 1}, {"data": {"a": 1}}),
    ("a.b", [1], {"a": {"b": [1]}}),
    ("", {"a": 1}, {"a": 1}),
    (None, {"a": 1}, {"a": 1}),
    (" data ", {"a": 1}, {"data": {"a": 1}}),
])
def test_wrap(envelope, body, wrapped):
    assert wrap(body, envelope) == wrapped


def test_external_id_paths():
    assert external_id_of({"id": "crm_1"}, "id") == "crm_1"
    assert external_id_of({"data": {"id": 7}}, "data.id") == "7"
    assert external_id_of({"id": None}, "id") is None
    assert external_id_of({"id": {"x": 1}}, "id") is None
    assert external_id_of({}, "id") is None
    assert external_id_of("text", "id") is None


def test_single_record_answers():
    assert answer_items({"id": 1}, 1) == [{"id": 1}]
    assert answer_items([{"id": 1}], 1) == [{"id": 1}]
    assert answer_items("ok", 1) == [None]
    assert answer_items(None, 1) == [None]


def test_batch_in_order():
    assert external_ids([{"id": "a"}, {"id": "b"}], 2) == ["a", "b"]


def test_batch_of_another_length_is_unknown():
    assert external_ids([{"id": "a"}], 2) == [None, None]
    assert external_ids({"id": "a"}, 2) == [None, None]


def test_batch_matched_by_identifier_when_answer_carries_it():
    payloads = [{"ref": "R1"}, {"ref": "R2"}, {"ref": "R3"}]
    answer = [{"ref": "R3", "id": "c"}, {"ref": "R1", "id": "a"}]
    assert external_ids(answer, 3, "id", "ref", payloads) == ["a", None, "c"]


def test_identifier_values_compare_as_text():
    assert external_ids([{"key": 2, "id": "b"}, {"key": 1, "id": "a"}], 2, "id", "key",
                        [{"key": 1}, {"key": "2"}]) == ["a", "b"]


def test_batch_without_identifier_in_answer_falls_back_to_order():
    assert external_ids([{"id": "a"}, {"id": "b"}], 2, "id", "ref",
                        [{"ref": 1}, {"ref": 2}]) == ["a", "b"]
