"""The limits' gate (``rota.stores._gate``), pure: ``Gate.admit_batch``, which claims use to
decide a whole batch at once, decides as ``admit_limits`` job after job would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rota.stores._gate import Gate

NOW = 1_900_000_000_000_000

Limits = tuple[str | None, object, str | None, object, object]

limits = st.tuples(
    st.sampled_from([None, "a", "b"]),
    st.sampled_from([None, 0, 1, 2, 3, 5, 10_000, "x"]),
    st.sampled_from([None, "r", "s"]),
    st.sampled_from([None, 0, 1, 2, 4, 1_000_000]),
    st.sampled_from([None, 0.0, 0.001, 1.0, 60.0, "y"]),
)


def gate(running: dict[str, int], buckets: dict[str, int]) -> Gate:
    return Gate(NOW, lambda key: running.get(key, 0), buckets.get)


@given(
    batch=st.lists(limits, max_size=20),
    running=st.fixed_dictionaries({"a": st.integers(0, 12), "b": st.integers(0, 12)}),
    buckets=st.dictionaries(st.sampled_from(["r", "s"]), st.integers(NOW - 10**7, NOW + 10**8)),
)
def test_a_batch_is_admitted_whole_exactly_when_each_job_in_turn_would_be(
    batch: list[Limits], running: dict[str, int], buckets: dict[str, int]
) -> None:
    one_by_one = gate(running, buckets)
    expected = all(one_by_one.admit_limits(*job) for job in batch)
    at_once = gate(running, buckets)
    assert at_once.admit_batch(batch) is expected
    if expected:  # counted as the jobs one by one were
        assert at_once.counts == one_by_one.counts
        assert at_once.changed() == one_by_one.changed()


def test_a_batch_the_gate_refuses_counts_nothing() -> None:
    at_once = gate({"a": 1}, {})
    assert not at_once.admit_batch([("a", 2, "r", 10, 1.0)] * 2)
    assert at_once.counts == {} and at_once.changed() == {}
    assert at_once.admit_batch([("a", 2, "r", 10, 1.0)])
    assert at_once.counts == {"a": 2} and at_once.changed() == {"r": NOW + 100_000}
