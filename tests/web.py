"""A real uvicorn server in the test's event loop, on a pre-bound 127.0.0.1 socket, and a small
HTTP client over it: the framework tests go through real HTTP, not an in-memory transport.

The socket listens before the server starts, so a request made at once waits in the backlog
until the lifespan has started and uvicorn accepts it: nothing polls for readiness."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import uvicorn

DEADLINE = 30.0


class Served:
    """``asgi`` served by uvicorn (lifespan on) until ``stop()``."""

    def __init__(self, asgi: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        # log_config=None: uvicorn leaves logging alone, so its records reach pytest's capture
        config = uvicorn.Config(asgi, lifespan="on", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.exit_code: int | str | None = None
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        except SystemExit as exc:  # a failed startup; caught here, before it leaves the event loop
            self.exit_code = exc.code

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """``method path`` with a JSON body; the status and the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")

        def send() -> tuple[int, Any]:
            try:
                with urllib.request.urlopen(req, timeout=DEADLINE) as resp:
                    return resp.status, _decode(resp.read())
            except urllib.error.HTTPError as exc:
                return exc.code, _decode(exc.read())

        # uvicorn answers on this loop while a thread waits for the reply
        return await asyncio.wait_for(asyncio.to_thread(send), DEADLINE)

    async def stop(self) -> None:
        """What SIGTERM does to uvicorn: stop accepting, run the lifespan's shutdown."""
        self.server.should_exit = True
        await asyncio.wait_for(self.task, DEADLINE)
        self.sock.close()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
