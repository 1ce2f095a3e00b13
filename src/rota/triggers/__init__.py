"""Triggers: when a schedule fires. Pure computation, no I/O.

``Cron`` (wall-clock times in a zone, Vixie cron DST rules), ``Every`` (a fixed period from
an anchor) and ``At`` (once). Each has ``next_fire(after)``, ``first_fire(now)``,
``describe()`` and ``dumps()``; ``load_trigger`` reverses ``dumps``. See docs/schedules.md.
"""

from rota.triggers._at import At
from rota.triggers._base import Trigger
from rota.triggers._cron import Cron
from rota.triggers._interval import Every
from rota.triggers._serial import load_trigger

__all__ = ["At", "Cron", "Every", "Trigger", "load_trigger"]
