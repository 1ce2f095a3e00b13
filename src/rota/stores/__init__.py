"""Stores: the ``Store`` interface and its backends, built from URLs."""

from rota.stores.base import Store
from rota.stores.url import store_from_url

__all__ = ["Store", "store_from_url"]
