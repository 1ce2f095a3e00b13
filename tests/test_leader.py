"""Leader election on a fake clock, over every store: election, renewal, failover, resignation,
outages, callbacks, and 50 contenders with random pauses never overlapping."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest

from rota._errors import ConfigError, StoreUnavailable
from rota._models import Fence
from rota.runtime.leader import LeaderElection, LeaderInfo
from rota.runtime.settings import LeaderSettings
from rota.stores.base import Store
from rota.testing import FakeClock, settle
from rota.testing.conformance import Harness

WAIT = 10.0  # real seconds a test may wait for the store to answer (never slept)
TTL, RENEW, MARGIN = 9.0, 3.0, 1.0  # leader trusts a term for 8 s after each renewal


# -- helpers shared with test_locks.py ----------------------------------------------------


class Calls:
    """Counts store calls in flight (across probes) so a test can let all I/O finish before
    it moves the fake clock: with a threaded or networked store, the clock must not run
    ahead of answers the code is still waiting for."""

    def __init__(self) -> None:
        self.inflight = 0
        self.count: dict[str, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self, name: str) -> None:
        self.inflight += 1
        self.count[name] = self.count.get(name, 0) + 1
        self._idle.clear()

    def end(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            self._idle.set()

    async def quiet(self) -> None:
        for _ in range(10_000):
            await settle()
            if self.inflight == 0:
                await settle()
                if self.inflight == 0:
                    return
            await asyncio.wait_for(self._idle.wait(), WAIT)
        raise AssertionError("store calls never quiesced")


class Probe:
    """A view of a store for one contender: can fail (StoreUnavailable) or pause.

    A paused contender's calls wait at the gate; one whose caller gave up meanwhile is still
    delivered on resume, with the ``now`` it was sent with, like a request already on the wire.
    """

    def __init__(self, store: Store, calls: Calls) -> None:
        self._store = store
        self._calls = calls
        self.failing = False
        #: real seconds a call of the named method takes on top of the store's own time
        self.latency: dict[str, float] = {}
        self.gate = asyncio.Event()
        self.gate.set()
        self._late: set[asyncio.Future[Any]] = set()

    def pause(self) -> None:
        self.gate.clear()

    def resume(self) -> None:
        self.gate.set()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not asyncio.iscoroutinefunction(attr) or name.startswith("wait_for_"):
            # wake-up waits last real seconds by design: they are not answers the clock must
            # wait for (counting them would hold every step for a poll interval)
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing:
                raise StoreUnavailable("probe: store unreachable")
            if self.gate.is_set():
                return await self._run(name, attr, args, kwargs)
            late = asyncio.ensure_future(self._deliver(name, attr, args, kwargs))
            self._late.add(late)
            late.add_done_callback(_retrieved)
            return await asyncio.shield(late)

        return call

    async def _deliver(self, name: str, attr: Any, args: Any, kwargs: Any) -> Any:
        try:
            await self.gate.wait()
            return await self._run(name, attr, args, kwargs)
        finally:
            self._late.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _run(self, name: str, attr: Any, args: Any, kwargs: Any) -> Any:
        self._calls.begin(name)
        try:
            if name in self.latency:
                await asyncio.sleep(self.latency[name])  # a slow network or server, not a wait
            return await attr(*args, **kwargs)
        finally:
            self._calls.end()

    def as_store(self) -> Store:
        return cast("Store", self)


def _retrieved(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


async def drive(
    clock: FakeClock, calls: Calls, seconds: float, on_step: Callable[[], None] | None = None
) -> None:
    """Move the fake clock ``seconds`` forward one sleeper deadline at a time, letting every
    store call finish at each step (and calling ``on_step`` after each)."""
    end = clock.now() + timedelta(seconds=seconds)
    await calls.quiet()
    for _ in range(1_000_000):
        nxt = clock.next_deadline()
        target = end if nxt is None or nxt > end else nxt
        await clock.set(target)
        await calls.quiet()
        if on_step is not None:
            on_step()
        if target == end and (nxt is None or nxt > end):
            return
    raise AssertionError("the clock never reached its target (a hot loop?)")


# -- fixtures -------------------------------------------------------------------------------


@dataclass
class World:
    harness: Harness
    calls: Calls = field(default_factory=Calls)
    elections: list[LeaderElection] = field(default_factory=list)
    probes: dict[str, Probe] = field(default_factory=dict)

    @property
    def clock(self) -> FakeClock:
        return self.harness.clock

    def elect(self, instance_id: str, store: Store | None = None, **options: Any) -> LeaderElection:
        probe = Probe(store or self.harness.store, self.calls)
        self.probes[instance_id] = probe
        options = {"ttl": TTL, "renew_interval": RENEW, "safety_margin": MARGIN} | options
        election = LeaderElection(probe.as_store(), self.clock, instance_id, **options)
        self.elections.append(election)
        return election

    async def run(self, seconds: float, on_step: Callable[[], None] | None = None) -> None:
        await drive(self.clock, self.calls, seconds, on_step)


@pytest.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    w = World(harness)
    yield w
    for probe in w.probes.values():
        probe.failing = False
        probe.resume()
    await w.calls.quiet()
    await asyncio.wait_for(asyncio.gather(*(e.stop() for e in w.elections)), WAIT)
    await w.calls.quiet()


class Recorder:
    """Records an election's callbacks, as (kind, token)."""

    def __init__(self, election: LeaderElection) -> None:
        self.log: list[tuple[str, int]] = []
        election.on_elected(lambda info: self.log.append(("elected", info.token)))

        async def lost(info: LeaderInfo) -> None:  # async callbacks work too
            await asyncio.sleep(0)
            self.log.append(("lost", info.token))

        election.on_lost(lost)


# -- election, renewal, failover, resignation -----------------------------------------------


async def test_first_contender_leads_the_others_follow(world: World) -> None:
    a, b = world.elect("host-a:1:x"), world.elect("b")
    await a.start()
    await b.start()
    assert a.is_leader and not b.is_leader
    assert a.token == 1 and b.token is None
    assert a.fence == Fence("leader:rota-scheduler", "host-a:1:x", 1)
    assert b.fence is None
    for who in (a, b):
        info = await who.leader()
        assert info is not None and (info.id, info.token) == ("host-a:1:x", 1)
        assert info.since == world.clock.now() and info.host == "host-a"
    assert (await b.leader()) == a.term
    assert a.term is not None and a.term.host == "host-a"
    assert LeaderInfo("custom-id", world.clock.now(), 1, world.clock.now()).host is None


async def test_renewals_keep_the_leadership_for_many_ttls(world: World) -> None:
    a, b = world.elect("a"), world.elect("b")
    await a.start()
    await b.start()
    start_token = a.token
    followers_elected: list[int] = []
    b.on_elected(lambda info: followers_elected.append(info.token))
    leading = []
    await world.run(10 * TTL, on_step=lambda: leading.append(a.is_leader and not b.is_leader))
    assert all(leading) and len(leading) > 30
    assert a.token == start_token and followers_elected == []
    assert world.calls.count["renew_lease"] == int(10 * TTL / RENEW)  # every RENEW seconds


async def test_failover_once_the_leader_stops_renewing(world: World) -> None:
    a, b = world.elect("a"), world.elect("b")
    ra, rb = Recorder(a), Recorder(b)
    await a.start()
    await b.start()
    t0 = world.clock.monotonic()
    lease = await world.harness.store.get_lease("leader:rota-scheduler", now=world.clock.now())
    assert lease is not None
    world.probes["a"].pause()  # a freezes: it renews no more
    await world.run(TTL - MARGIN - 0.001)
    assert a.is_leader  # locally trusted until acquired + ttl - margin ...
    await world.run(0.001)
    assert not a.is_leader and a.fence is None  # ... and not a moment longer
    assert not b.is_leader  # the store still has a's lease: nobody else leads yet
    await world.run(MARGIN - 0.001)
    assert not b.is_leader
    await world.run(0.001)  # a's lease expires in the store; b was waiting for exactly this
    assert b.is_leader and b.token == 2
    assert world.clock.monotonic() - t0 == pytest.approx(TTL)
    assert ra.log == [("elected", 1), ("lost", 1)]
    world.probes["a"].resume()  # a wakes up: its late renewal is refused; it follows
    await world.run(3 * TTL)
    assert b.is_leader and not a.is_leader and b.token == 2
    assert ra.log == [("elected", 1), ("lost", 1)] and rb.log == [("elected", 2)]


async def test_resign_hands_over_at_once_and_is_safe_to_repeat(world: World) -> None:
    a, b = world.elect("a"), world.elect("b", retry_interval=0.5)
    ra = Recorder(a)
    await a.start()
    await b.start()
    assert await a.resign() is True
    assert ra.log == [("elected", 1), ("lost", 1)]  # on_lost has run when resign returns
    assert not a.is_leader and not a.running
    assert await a.resign() is False
    await a.stop()
    assert ra.log == [("elected", 1), ("lost", 1)]
    await world.run(0.5)  # b's next retry
    assert b.is_leader and b.token == 2
    await a.start()  # rejoins as a follower
    await world.run(2 * TTL)
    assert b.is_leader and not a.is_leader and a.running


async def test_repeated_start_and_resign_cycles(world: World) -> None:
    a = world.elect("a")
    ra = Recorder(a)
    await asyncio.gather(a.start(), a.start(), a.start())  # concurrent starts: one campaign
    await a.start()
    assert a.is_leader and a.token == 1
    await world.run(TTL)
    assert world.calls.count["acquire_lease"] == 1
    for _ in range(4):
        await asyncio.gather(a.resign(), a.resign())
        await a.start()
    assert a.token == 5
    await a.resign()
    assert ra.log == [(kind, n) for n in range(1, 6) for kind in ("elected", "lost")]
    assert await world.harness.store.get_lease("leader:rota-scheduler", now=world.clock.now()) is None


async def test_callbacks_sync_async_with_and_without_argument(world: World) -> None:
    a = world.elect("a")
    seen: list[str] = []
    a.on_elected(lambda: seen.append("sync0"))

    async def with_info(info: LeaderInfo) -> None:
        seen.append(f"async{info.token}")

    a.on_elected(with_info)
    undo = a.on_elected(lambda info: seen.append("removed"))
    undo()
    a.on_elected(lambda info: 1 / 0)  # a failing callback is logged, the others still run
    a.on_lost(lambda: seen.append("lost"))
    await a.start()
    await settle()
    assert seen == ["sync0", "async1"]
    await a.resign()
    assert seen == ["sync0", "async1", "lost"]
    with pytest.raises(ConfigError):
        a.on_lost("not callable")  # type: ignore[arg-type]


async def test_store_outage_ends_the_term_at_the_safety_deadline(world: World) -> None:
    a = world.elect("a")
    ra = Recorder(a)
    await a.start()
    await world.run(RENEW)  # one renewal: the deadline moves to 3 + 9 - 1 = 11
    world.probes["a"].failing = True
    await world.run(TTL - MARGIN - 0.001)
    assert a.is_leader  # renewals fail (retried with backoff) but the term still holds
    assert world.calls.count["renew_lease"] == 1
    await world.run(0.001)
    assert not a.is_leader
    assert ra.log == [("elected", 1), ("lost", 1)]
    world.probes["a"].failing = False  # the store is back; our old lease expires in it first
    await world.run(MARGIN + RENEW)
    assert a.is_leader and a.token == 2
    assert ra.log == [("elected", 1), ("lost", 1), ("elected", 2)]


async def test_wait_until_leader(world: World) -> None:
    a, b = world.elect("a"), world.elect("b")
    await a.start()
    await b.start()
    waiting = asyncio.ensure_future(b.wait_until_leader())
    await world.run(1)
    assert not waiting.done()
    await a.resign()
    await world.run(RENEW)
    info = await asyncio.wait_for(waiting, WAIT)
    assert info.id == "b" and info.token == 2


# -- 50 contenders --------------------------------------------------------------------------


async def test_fifty_contenders_never_overlap_and_tokens_increase(world: World) -> None:
    rng = random.Random(20240605)
    stores = [world.harness.store] + [await world.harness.another() for _ in range(3)]
    contenders = [world.elect(f"c{n}", stores[n % len(stores)]) for n in range(50)]
    elected: list[int] = []
    terms: dict[int, list[float]] = {}  # token -> [first seen leading, end of trust]
    ended: dict[int, float] = {}  # token -> when on_lost ran (resigned, or noticed the loss)
    for c in contenders:
        c.on_elected(lambda info: elected.append(info.token))
        c.on_lost(lambda info: ended.setdefault(info.token, world.clock.monotonic()))
    overlaps: list[str] = []

    def sample() -> None:
        now = world.clock.monotonic()
        leaders = [c for c in contenders if c.is_leader]
        if len(leaders) > 1:
            overlaps.append(f"at {now}: {[c.instance_id for c in leaders]}")
        for c in leaders:
            assert c.token is not None and c.valid_until is not None
            term = terms.setdefault(c.token, [now, c.valid_until])
            term[1] = max(term[1], c.valid_until)

    await asyncio.gather(*(c.start() for c in contenders))
    paused_until: dict[str, float] = {}
    resigned: list[LeaderElection] = []
    for _ in range(80):
        await world.run(rng.uniform(0.5, 8.0), on_step=sample)
        now = world.clock.monotonic()
        for cid in [cid for cid, until in paused_until.items() if until <= now]:
            world.probes[cid].resume()
            del paused_until[cid]
        for c in resigned:
            await c.start()
        resigned.clear()
        leader = next((c for c in contenders if c.is_leader), None)
        roll = rng.random()
        if leader is not None and leader.instance_id not in paused_until and roll < 0.45:
            # the leader freezes (GC, SIGSTOP): sometimes shorter, sometimes longer than a term
            paused_until[leader.instance_id] = now + rng.uniform(1.0, 3 * TTL)
            world.probes[leader.instance_id].pause()
        elif leader is not None and leader.instance_id not in paused_until and roll < 0.6:
            await leader.resign()
            resigned.append(leader)
        for c in rng.sample(contenders, 5):  # followers freeze too, mid-call
            if c.instance_id not in paused_until and not c.is_leader and c not in resigned:
                paused_until[c.instance_id] = now + rng.uniform(0.5, 2 * TTL)
                world.probes[c.instance_id].pause()
    for cid in paused_until:
        world.probes[cid].resume()
    await world.run(2 * TTL, on_step=sample)

    assert overlaps == []
    assert elected == sorted(set(elected)), "tokens of successive leaders must strictly increase"
    assert len(terms) >= 20, f"only {len(terms)} terms: the test exercised too few changes"
    # a term is trusted until its local deadline, or until it ended sooner (resigned)
    windows = sorted((tok, (start, min(end, ended.get(tok, end)))) for tok, (start, end) in terms.items())
    for (tok, (_, end)), (nxt, (start, _)) in itertools.pairwise(windows):
        assert end <= start, f"term {tok} trusted until {end}, term {nxt} began at {start}"
    assert set(ended) >= {tok for tok, _ in windows[:-1]}, "every term but the last must have ended"


# -- settings -------------------------------------------------------------------------------


def test_settings_defaults_and_environment() -> None:
    s = LeaderSettings.from_env({})
    assert (s.ttl, s.renew_interval, s.retry_interval, s.safety_margin) == (30.0, 10.0, 10.0, 3.0)
    assert s.enabled is None and s.leader_only_execution is False and s.name == "rota-scheduler"
    env = {
        "ROTA_LEADER_ELECTION_ENABLED": "yes",
        "ROTA_LEADER_ELECTION_TTL": "2s",
        "ROTA_LEADER_ELECTION_RENEW_INTERVAL": "500ms",
        "ROTA_LEADER_ELECTION_RETRY_INTERVAL": "0.25",
        "ROTA_LEADER_ONLY_EXECUTION": "1",
        "ROTA_INSTANCE_ID": "node-7",
        "ROTA_STORE_URL": "memory://",  # other ROTA_ variables are not ours to judge
    }
    s = LeaderSettings.from_env(env)
    assert (s.enabled, s.ttl, s.renew_interval, s.retry_interval) == (True, 2.0, 0.5, 0.25)
    assert s.leader_only_execution and s.instance_id == "node-7"
    assert LeaderSettings.from_env(env, ttl=timedelta(minutes=1)).ttl == 60.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROTA_LEADER_ELECTION_TTL": "soon"}, "ROTA_LEADER_ELECTION_TTL must be a duration"),
        ({"ROTA_LEADER_ELECTION_TLL": "30"}, "unknown setting ROTA_LEADER_ELECTION_TLL"),
        ({"ROTA_LEADER_ELECTION_ENABLED": "maybe"}, "must be true or false"),
        (
            {"ROTA_LEADER_ELECTION_TTL": "10", "ROTA_LEADER_ELECTION_RENEW_INTERVAL": "10"},
            "renew interval .10s. plus safety margin .1s. must be less than the ttl .10s.",
        ),
        ({"ROTA_LEADER_ELECTION_RETRY_INTERVAL": "0"}, "retry interval must be positive"),
        ({"ROTA_LEADER_ELECTION_SAFETY_MARGIN": "0"}, "safety margin must be positive"),
        ({"ROTA_INSTANCE_ID": "two words"}, "ROTA_INSTANCE_ID must be a non-empty string without spaces"),
    ],
)
def test_bad_settings_fail_at_start_up_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LeaderSettings.from_env(env)


def test_settings_enable_election_by_default_only_on_shared_stores() -> None:
    class Shared:
        shared = True

    class Private:
        shared = False

    s = LeaderSettings()
    assert s.election_enabled(cast("Store", Shared())) and not s.election_enabled(cast("Store", Private()))
    assert not LeaderSettings(enabled=False).election_enabled(cast("Store", Shared()))
    with pytest.raises(ConfigError, match="unknown leader settings"):
        LeaderSettings.from_env({}, tll=3)


# -- health ---------------------------------------------------------------------------------


async def test_health_reports_roles_and_the_leader() -> None:
    from rota import App
    from rota.runtime.health import health
    from rota.stores.memory import MemoryStore

    clock = FakeClock()
    store = MemoryStore()
    app = App(store=store, clock=clock, instance_id="solo")

    @app.task
    async def ping() -> None: ...

    alone = await health(app.context, settings=LeaderSettings())  # memory store: not shared, no election
    assert (alone.leader_election, alone.fires_schedules, alone.executes_jobs) == (False, True, True)
    assert alone.tasks == (ping.name,) and alone.store_ok and alone.instance_id == "solo"

    calls = Calls()
    lead = LeaderElection(Probe(store, calls).as_store(), clock, "host-1:10:aa", ttl=TTL)
    follow = LeaderElection(Probe(store, calls).as_store(), clock, "host-2:20:bb", ttl=TTL)
    await lead.start()
    await follow.start()
    standby = LeaderSettings(enabled=True, leader_only_execution=True)
    h_lead = await health(app.context, election=lead, settings=standby)
    h_follow = await health(app.context, election=follow, settings=standby)
    assert (h_lead.is_leader, h_lead.fires_schedules, h_lead.executes_jobs) == (True, True, True)
    assert (h_follow.is_leader, h_follow.fires_schedules, h_follow.executes_jobs) == (False, False, False)
    assert h_follow.leader is not None and h_follow.leader.id == "host-1:10:aa"
    assert h_follow.to_dict()["leader"]["host"] == "host-1" and h_follow.instance_id == "host-2:20:bb"
    workers = await health(app.context, election=follow, settings=LeaderSettings(enabled=True))
    assert (workers.fires_schedules, workers.executes_jobs) == (False, True)  # followers keep working

    down = Probe(store, calls)
    down.failing = True
    broken = await health(
        App(store=down.as_store(), clock=clock).context, settings=LeaderSettings(enabled=True)
    )
    assert not broken.store_ok and broken.error is not None and "StoreUnavailable" in broken.error
    await lead.stop()
    await follow.stop()
