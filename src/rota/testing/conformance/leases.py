"""Named leases (leader election, locks) with fencing tokens."""

from __future__ import annotations

from rota._models import Lease
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import MS, sec

TTL = sec(10)


async def take(h: Harness, owner: str, name: str = "L") -> Lease | None:
    return await h.store.acquire_lease(name, owner=owner, ttl=TTL, now=h.clock.now())


class Leases:
    async def test_acquire_free_lease(self, harness: Harness) -> None:
        now = harness.clock.now()
        assert await take(harness, "a") == Lease("L", "a", 1, acquired_at=now, expires_at=now + TTL)
        assert await harness.store.get_lease("L", now=now) == Lease("L", "a", 1, now, now + TTL)

    async def test_acquire_of_a_held_lease_returns_none_even_for_its_owner(self, harness: Harness) -> None:
        held = await take(harness, "a")
        await harness.clock.advance(5)
        assert await take(harness, "b") is None
        assert await take(harness, "a") is None
        assert await harness.store.get_lease("L", now=harness.clock.now()) == held

    async def test_leases_of_different_names_are_independent(self, harness: Harness) -> None:
        a = await take(harness, "a", "one")
        b = await take(harness, "b", "two")
        assert (a is not None, b is not None) == (True, True)

    async def test_renew_extends_the_lease(self, harness: Harness) -> None:
        t0 = harness.clock.now()
        held = await take(harness, "a")
        assert held is not None
        await harness.clock.advance(9.999)
        now = harness.clock.now()
        renewed = await harness.store.renew_lease("L", owner="a", token=1, ttl=TTL, now=now)
        assert renewed == Lease("L", "a", 1, acquired_at=t0, expires_at=now + TTL)
        await harness.clock.advance(5)
        assert await take(harness, "b") is None
        assert await harness.store.get_lease("L", now=harness.clock.now()) == renewed

    async def test_renew_with_wrong_owner_or_token_or_after_expiry_fails(self, harness: Harness) -> None:
        held = await take(harness, "a")
        assert held is not None
        renew = harness.store.renew_lease
        now = harness.clock.now()
        assert await renew("L", owner="b", token=held.token, ttl=TTL, now=now) is None
        assert await renew("L", owner="a", token=held.token + 1, ttl=TTL, now=now) is None
        assert await renew("nope", owner="a", token=held.token, ttl=TTL, now=now) is None
        await harness.clock.advance(10)
        now = harness.clock.now()
        assert await renew("L", owner="a", token=held.token, ttl=TTL, now=now) is None
        assert await harness.store.get_lease("L", now=now) is None

    async def test_release_frees_the_lease_and_the_next_token_is_higher(self, harness: Harness) -> None:
        held = await take(harness, "a")
        assert held is not None
        now = harness.clock.now()
        release = harness.store.release_lease
        assert await release("L", owner="b", token=held.token, now=now) is False
        assert await release("L", owner="a", token=held.token + 1, now=now) is False
        assert await release("L", owner="a", token=held.token, now=now) is True
        assert await harness.store.get_lease("L", now=now) is None
        assert await release("L", owner="a", token=held.token, now=now) is False
        nxt = await take(harness, "b")
        assert nxt is not None
        assert nxt.token == held.token + 1
        assert await harness.store.renew_lease("L", owner="a", token=1, ttl=TTL, now=now) is None

    async def test_tokens_strictly_increase_across_owners_and_expiries(self, harness: Harness) -> None:
        tokens: list[int] = []
        for n in range(12):
            held = await take(harness, f"o{n % 3}")
            assert held is not None
            tokens.append(held.token)
            if n % 2:
                await harness.store.release_lease(
                    "L", owner=held.owner, token=held.token, now=harness.clock.now()
                )
            else:
                await harness.clock.advance(TTL)
        assert tokens == list(range(1, 13))

    async def test_get_lease_returns_none_once_expired(self, harness: Harness) -> None:
        held = await take(harness, "a")
        await harness.clock.advance(9.999)
        assert await harness.store.get_lease("L", now=harness.clock.now()) == held
        await harness.clock.advance(0.001)
        assert await harness.store.get_lease("L", now=harness.clock.now()) is None
        assert await harness.store.get_lease("never", now=harness.clock.now()) is None

    async def test_lease_expiry_has_millisecond_precision(self, harness: Harness) -> None:
        now = harness.clock.now()
        held = await harness.store.acquire_lease("L", owner="a", ttl=sec(1) + MS, now=now)
        assert held is not None
        assert held.expires_at == now + sec(1) + MS
        await harness.clock.advance(1)  # 1 ms before expiry: still held
        assert await take(harness, "b") is None
        assert await harness.store.get_lease("L", now=harness.clock.now()) == held
        await harness.clock.advance(0.001)
        taken = await take(harness, "b")
        assert taken is not None
        assert taken.token == held.token + 1
