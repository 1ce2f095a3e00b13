"""FastAPI glue (``pip install 'rota[web]'``): rota.contrib.starlette's lifespan and
dependency, plus ``RotaApp``, an annotated type that injects the App into an endpoint::

    from rota.contrib.fastapi import RotaApp, lifespan

    api = FastAPI(lifespan=lifespan(app))

    @api.post("/signups")
    async def signup(email: str, jobs: RotaApp) -> dict[str, str]:
        return {"job": (await jobs.enqueue(send_welcome, email)).id}
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from rota._app import App
from rota.contrib.starlette import STATE_KEY, get_app, get_worker, lifespan

__all__ = ["STATE_KEY", "RotaApp", "get_app", "get_worker", "lifespan"]

#: ``jobs: RotaApp`` in an endpoint's signature: the App the lifespan opened
RotaApp = Annotated[App, Depends(get_app)]
