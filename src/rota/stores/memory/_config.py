"""The memory store's URL: ``memory://``, with no host, path or options."""

from __future__ import annotations

from dataclasses import dataclass

from rota._errors import ConfigError
from rota.stores.url import redact, split_url


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """The memory store has nothing to configure; the class exists so that every backend is
    built the same way (``XConfig.from_url``, then the store from its config)."""

    @classmethod
    def from_url(cls, url: str) -> MemoryConfig:
        """``memory://`` (nothing else is accepted: the store has no host, path or options)."""
        parts = split_url(url)
        if parts.scheme.lower() != "memory" or parts.netloc or parts.path or parts.query:
            raise ConfigError(
                f"the memory store URL takes no host, path or options: use 'memory://', not {redact(url)!r}"
            )
        return cls()
