"""The store conformance suite: every store must pass it against a real server.

Use it from pytest by subclassing ``StoreConformance`` and providing a ``harness`` fixture
that yields a fresh, empty, opened store (with the ``FakeClock`` it runs on)::

    from rota.testing.conformance import Harness, StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def harness(self) -> AsyncIterator[Harness]: ...

The tests are grouped by topic in mixins (``jobs_add``, ``jobs_claim``, ``jobs_lifecycle``,
``jobs_admin``, ``schedules``, ``schedule_fires``, ``leases``, ``edges``...); select a topic with
``pytest -k JobsClaim`` style class-name filters or by test name.
"""

from rota.testing.conformance._harness import Harness
from rota.testing.conformance.suite import StoreConformance

__all__ = ["Harness", "StoreConformance"]
