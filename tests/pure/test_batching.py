"""Tests of batch splitting for paginated outbound delivery."""

import pytest

from bj_api_sync.engine.batching import chunk_ids, chunked


def test_exact_multiple():
    assert list(chunked(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]


def test_remainder():
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_size_larger_than_input():
    assert list(chunked([1, 2], 100)) == [[1, 2]]


def test_size_one():
    assert list(chunked("abc", 1)) == [["a"], ["b"], ["c"]]


def test_empty():
    assert list(chunked([], 5)) == []
    assert list(chunk_ids([], 5)) == []


@pytest.mark.parametrize("size", [0, -1])
def test_invalid_size_raises_at_call_time(size):
    with pytest.raises(ValueError):
        chunked([1, 2], size)
    with pytest.raises(ValueError):
        chunk_ids([1, 2], size)


@pytest.mark.parametrize("size", [1.5, "3", None, True])
def test_non_integer_size(size):
    with pytest.raises(TypeError):
        chunked([1, 2], size)


def test_lazy_on_generators():
    consumed = []

    def source():
        for i in range(10):
            if i >= 4:
                raise AssertionError("over-consumed: only two batches were requested")
            consumed.append(i)
            yield i

    batches = chunked(source(), 2)
    assert consumed == []  # nothing read before the first batch is asked for
    assert next(batches) == [0, 1]
    assert consumed == [0, 1]
    assert next(batches) == [2, 3]
    assert consumed == [0, 1, 2, 3]


def test_batches_are_fresh_lists():
    batches = list(chunked(iter(range(4)), 2))
    batches[0].append(99)
    assert batches[1] == [2, 3]


def test_chunk_ids_list_tuple_and_generator():
    ids = [5, 3, 9, 1, 7]
    assert list(chunk_ids(ids, 2)) == [[5, 3], [9, 1], [7]]
    assert list(chunk_ids(tuple(ids), 2)) == [[5, 3], [9, 1], [7]]
    assert list(chunk_ids(iter(ids), 2)) == [[5, 3], [9, 1], [7]]
    assert all(isinstance(batch, list) for batch in chunk_ids(tuple(ids), 2))


def test_chunk_ids_large():
    batches = list(chunk_ids(list(range(1001)), 100))
    assert len(batches) == 11
    assert batches[-1] == [1000]
    assert sum(len(b) for b in batches) == 1001
