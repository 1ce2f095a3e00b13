"""The store conformance suite: every store must pass it against a real server.

Use it from pytest by subclassing ``StoreConformance`` and providing a ``harness`` fixture
that yields a fresh, empty, opened store::

    from rota.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def harness(self): ...
"""

from rota.testing.conformance._harness import Harness

__all__ = ["Harness"]
