"""``StoreConformance``: every topic's tests in one class for a store's test module to subclass."""

from __future__ import annotations

import pytest

from rota.testing.conformance.differential import Differential
from rota.testing.conformance.edges import Edges
from rota.testing.conformance.jobs_add import JobsAdd
from rota.testing.conformance.jobs_admin import JobsAdmin
from rota.testing.conformance.jobs_claim import JobsClaim
from rota.testing.conformance.jobs_edges import JobsEdges
from rota.testing.conformance.jobs_lifecycle import JobsLifecycle
from rota.testing.conformance.jobs_limited import JobsLimited
from rota.testing.conformance.jobs_progress import JobsProgress
from rota.testing.conformance.leases import Leases
from rota.testing.conformance.limits import Limits
from rota.testing.conformance.listing import Listing
from rota.testing.conformance.schedule_fires import ScheduleFires
from rota.testing.conformance.schedules import Schedules
from rota.testing.conformance.wakeups import Wakeups
from rota.testing.conformance.workers import Workers


class StoreConformance(
    JobsAdd,
    JobsClaim,
    JobsLifecycle,
    JobsAdmin,
    JobsEdges,
    JobsProgress,
    JobsLimited,
    Schedules,
    ScheduleFires,
    Leases,
    Workers,
    Limits,
    Listing,
    Wakeups,
    Edges,
    Differential,
):
    """The store contract as tests. Subclass it and provide a ``harness`` fixture.

    Each test gets a fresh, empty, opened store; the fixture closes it afterwards.
    """

    # so the suite also runs under pytest-asyncio's strict mode
    pytestmark = pytest.mark.asyncio
