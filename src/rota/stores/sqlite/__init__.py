"""The embedded default store: one SQLite file in WAL mode, shared by processes on one host."""

from rota.stores.sqlite._config import SQLiteConfig
from rota.stores.sqlite._store import SQLiteStore, from_url

__all__ = ["SQLiteConfig", "SQLiteStore", "from_url"]
