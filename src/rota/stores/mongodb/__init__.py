"""The MongoDB store (``mongodb://`` and ``mongodb+srv://`` URLs); see docs/mongodb.md."""

from rota.stores.mongodb._store import MongoStore, from_url

__all__ = ["MongoStore", "from_url"]
