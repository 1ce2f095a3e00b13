"""Strategies for the fuzz suites: the values a user might hand rota by mistake, weighted
towards the edges (NaN, infinities, bools, huge and negative numbers, empty text, NUL, lone
surrogates, naive and extreme datetimes, extreme timedeltas) with ordinary values mixed in."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import strategies as st

#: inputs tried per suite and whether they were accepted, refused, ...; printed at the end
TRIED: Counter[str] = Counter()

EDGE_NUMBERS: list[Any] = [
    math.nan, math.inf, -math.inf, -0.0, 0, 1, -1, 0.05, 1e-9, 1e12, 1e308, 5e-324,
    True, False, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**400,
]  # fmt: skip

EDGE_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x" * 200, "x" * 201, "é🙂", "[/x]", "\n", "default"]

EDGE_DATES: list[Any] = [
    datetime.min, datetime.max, datetime(2030, 1, 1),  # noqa: DTZ901 - naive on purpose
    datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
    datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC),
    datetime(8999, 1, 1, tzinfo=UTC), datetime(9998, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2030, 1, 1, tzinfo=UTC),
]  # fmt: skip

EDGE_DELTAS = [timedelta.min, timedelta.max, timedelta(0), timedelta(microseconds=1), timedelta(days=-1)]

numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
texts = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(max_size=30),
    st.text(st.characters(codec=None, categories=None), max_size=10),  # surrogates and all
)
dates = st.one_of(
    st.sampled_from(EDGE_DATES),
    st.datetimes(timezones=st.none() | st.timezones()),
)
deltas = st.one_of(st.sampled_from(EDGE_DELTAS), st.timedeltas())

#: anything at all, for parameters of any type
anything = st.one_of(
    st.none(),
    numbers,
    texts,
    dates,
    deltas,
    st.binary(max_size=8),
    st.lists(st.integers() | st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)

#: a duration parameter: mostly numbers and timedeltas, sometimes anything
durations = st.one_of(numbers, deltas, anything)
#: a name parameter: mostly text
names = st.one_of(texts, texts, anything)


def print_tried(request: pytest.FixtureRequest, prefix: str, title: str) -> None:
    """Print how many inputs a suite tried (past output capture, so a passing run shows it)."""
    rows = {k: v for k, v in sorted(TRIED.items()) if k.startswith(prefix)}
    if not rows:
        return
    total = sum(v for k, v in rows.items() if ":" not in k)
    refused = sum(v for k, v in rows.items() if k.endswith(": refused"))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        accepted = total - refused
        print(f"\n{title}: {total} inputs tried, {refused} refused with a rota error, {accepted} accepted")
        for key, count in rows.items():
            if ":" not in key:
                print(f"  {key}: {count} ({rows.get(key + ': refused', 0)} refused)")
