"""Test helpers: a fake clock and the store conformance suite (``rota.testing.conformance``)."""

from rota.testing._fake_clock import FakeClock, settle

__all__ = ["FakeClock", "settle"]
