"""Real servers for the tests: an ASGI app under uvicorn in a thread, on an ephemeral port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serve_asgi(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1; yield its base URL; stop it afterwards.

    ``log_config=None``: uvicorn's loggers propagate, so the leak check reads them too.
    """
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="warning",
                            lifespan=lifespan, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
