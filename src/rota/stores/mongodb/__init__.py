"""The MongoDB store (``mongodb://`` and ``mongodb+srv://`` URLs); see docs/mongodb.md."""

from rota.stores.mongodb._config import MongoConfig
from rota.stores.mongodb._store import MongoStore, from_url

__all__ = ["MongoConfig", "MongoStore", "from_url"]
