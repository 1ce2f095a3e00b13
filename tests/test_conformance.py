"""Every store backend (see tests/conftest.py) against the conformance suite."""

from rota.testing.conformance import StoreConformance


class TestConformance(StoreConformance):
    pass
