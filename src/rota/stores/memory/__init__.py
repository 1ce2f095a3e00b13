"""The in-process store (``memory://``): a real implementation of the ``Store`` contract.

State lives in this process only and is lost when it exits; it passes the same conformance
suite as the server stores. Modules: ``_store`` (jobs, leases), ``_claim_index`` (claim order
without scans), ``_schedules``.
"""

from __future__ import annotations

from rota._errors import ConfigError
from rota.stores.memory._store import MemoryStore
from rota.stores.url import redact, split_url

__all__ = ["MemoryStore", "from_url"]


def from_url(url: str) -> MemoryStore:
    """``memory://`` (nothing else is accepted: the store has no host, path or options)."""
    parts = split_url(url)
    if parts.scheme.lower() != "memory" or parts.netloc or parts.path or parts.query:
        raise ConfigError(
            f"the memory store URL takes no host, path or options: use 'memory://', not {redact(url)!r}"
        )
    return MemoryStore()
