"""Per-call cost of ``POST /v1/authorize`` against the no-op, in process through ASGI.

The HTTP benchmark (``bench/authorize.py``) says *that* an authorization costs more than the
no-op; this says by how much of whose time, without sockets, wrk or a second process
sharing the two cores: the app (``bench/_server.py``'s, no-op included) is called with an
ASGI scope, one request after another, on a fresh database with 100 agents, each path
timed in alternating blocks. ``--profile`` then runs only authorizations, for a sampling
profiler to attach (``py-spy record -- python -m bench.asgi_cost --profile``). On PostgreSQL
a call's time includes the wait for its round trip: one caller, nothing overlaps it.

    python -m bench.asgi_cost [--backend sqlite|postgres] [--calls 5000] [--concurrency 1] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench._common import database, machine
from bench._server import add_noop
from bench.authorize import ADMIN
from bench.authorize import BODY as AUTHORIZE_BODY
from spendwarden.api.app import create_app
from spendwarden.config import Settings
from spendwarden.ledger.agents import AgentSpec
from spendwarden.money import usd
from spendwarden.runtime import build_runtime

BODY = json.dumps(AUTHORIZE_BODY).encode()  # the HTTP benchmark's request
PATHS = ("/bench/noop", "/v1/authorize")


async def call(app: Any, path: str, key: str) -> int:
    """One request through the whole ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [
            (b"host", b"bench"), (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()), (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def calls_of(app: Any, path: str, keys: list[str], calls: int, concurrency: int) -> None:
    """``calls`` requests, ``concurrency`` at a time (as a loop serving that many
    connections handles them: together, in the same iterations)."""
    for start in range(0, calls, concurrency):
        await asyncio.gather(
            *(call(app, path, keys[i % 100]) for i in range(start, min(start + concurrency, calls)))
        )


async def measure(url: str, calls: int, profile: bool, concurrency: int = 1) -> dict[str, float]:
    runtime = build_runtime(Settings(database_url=url, admin_token=ADMIN))
    app = create_app(runtime)
    add_noop(app, runtime)
    keys = [
        runtime.ledger.create_agent(
            AgentSpec(id=f"b{i}", tier="custom", caps={"daily": usd("1000000")}), "bench"
        )[1]
        for i in range(100)
    ]
    per_call: dict[str, list[float]] = {path: [] for path in PATHS}
    try:
        async with app.router.lifespan_context(app):
            for path in PATHS:  # warm: keys known, statements prepared
                for i in range(300):
                    if await call(app, path, keys[i % 100]) != 200:
                        raise RuntimeError(f"{path} did not answer 200")
            if profile:
                await calls_of(app, "/v1/authorize", keys, calls * 10, concurrency)
                return {}
            for _ in range(3):  # alternating blocks: the machine's moods fall on both
                for path in PATHS:
                    start = time.perf_counter()
                    await calls_of(app, path, keys, calls, concurrency)
                    per_call[path].append((time.perf_counter() - start) / calls * 1e6)
    finally:
        runtime.close()
    return {path: min(values) for path, values in per_call.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--calls", type=int, default=5000, help="calls per path per block (3 blocks)")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="calls made at a time, as from that many connections"
    )
    parser.add_argument(
        "--profile", action="store_true", help="only authorizations, 10x --calls, nothing printed"
    )
    args = parser.parse_args()
    with database(args.backend) as url:
        result = asyncio.run(measure(url, args.calls, args.profile, args.concurrency))
    if result:
        noop, authorize = result["/bench/noop"], result["/v1/authorize"]
        print(machine())
        print(
            f"{args.backend}: no-op {noop:.1f} µs/call, authorize {authorize:.1f} µs/call "
            f"(best of 3 blocks of {args.calls:,}, {args.concurrency} at a time); authorize's own work {authorize - noop:.1f} µs, "
            f"in-process ratio {noop / authorize:.2f}"
        )


if __name__ == "__main__":
    main()
