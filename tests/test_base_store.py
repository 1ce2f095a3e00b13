"""What ``Store`` (stores/base.py) does around every backend: the open state and a failed
open. The argument checks and the closed state are in the conformance suite (edges.py),
which runs them on every store; a failed open needs a store whose open fails on demand."""

from __future__ import annotations

import pytest

from rota._errors import StoreClosed, StoreError, StoreUnavailable
from rota._models import Job
from rota.stores._parts import Parts
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock


class FlakyStore(MemoryStore):
    """A memory store whose ``open`` fails while ``outage`` is set, as a server store's does
    while its server is away."""

    def __init__(self) -> None:
        super().__init__()
        self.outage = True
        self.opens = 0

    async def _open(self) -> Parts:
        self.opens += 1
        if self.outage:
            raise StoreUnavailable("the server is away")
        return await super()._open()


def test_store_closed_is_a_store_error_that_is_not_retried() -> None:
    assert issubclass(StoreClosed, StoreError)
    assert not issubclass(StoreClosed, StoreUnavailable)


async def test_after_a_failed_open_each_call_opens_the_store_again() -> None:
    clock = FakeClock()
    store = FlakyStore()
    job = Job(id="j1", task="t", due_at=clock.now(), created_at=clock.now())
    with pytest.raises(StoreClosed, match="call open"):  # never asked to open: no attempt
        await store.get_job("j1")
    assert store.opens == 0
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):  # the outage, not "closed": the caller retries
        await store.add([job], now=clock.now())
    assert store.opens == 2
    store.outage = False
    (result,) = await store.add([job], now=clock.now())  # the server is back: open, then add
    assert result.created
    assert store.opens == 3
    assert await store.get_job("j1") == job
    assert store.opens == 3  # open now: no more attempts
    await store.close()
    with pytest.raises(StoreClosed, match="it was closed"):
        await store.get_job("j1")
    assert store.opens == 3
