"""A Spendwarden server for benchmarks: the real app plus a no-op endpoint on the same
stack (uvicorn + FastAPI + the same body model), so ratios compare like with like."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from spendwarden.api.app import create_app
from spendwarden.api.schemas import AuthorizeBody
from spendwarden.config import Settings
from spendwarden.runtime import build_runtime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    runtime = build_runtime(Settings(database_url=args.database, admin_token=args.admin_token))
    app = create_app(runtime)

    @app.post("/bench/noop")
    async def noop(body: AuthorizeBody) -> dict[str, Any]:
        """The cheapest endpoint on this stack: same middleware, same body model, no work."""
        return {"id": "noop", "status": "approved", "headroom": {}}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error", access_log=False)


if __name__ == "__main__":
    main()
