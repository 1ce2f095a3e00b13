"""The in-process store (``memory://``): a real implementation of the ``Store`` contract.

State lives in this process only and is lost when it exits; it passes the same conformance
suite as the server stores. Laid out as every backend (see docs/stores.md): ``_store`` (the
store), ``_jobs``, ``_schedules``, ``_leases`` (its parts), ``_config``, ``_codec`` (copies),
and ``_claim_index`` (claim order without scans).
"""

from __future__ import annotations

from rota.stores.memory._config import MemoryConfig
from rota.stores.memory._store import MemoryStore, from_url

__all__ = ["MemoryConfig", "MemoryStore", "from_url"]
