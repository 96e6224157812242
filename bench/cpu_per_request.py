"""CPU per request of the server and of PostgreSQL under wrk load, for one path.

Where a throughput ratio says *that* a path is slower than the no-op, this says *who*
pays: the server process (and its worker) or the database. Runs a real server
(``bench/_server.py``) on a fresh database with 100 agents, drives ``--path`` with wrk
(1 thread, 16 connections, round-robin over the agents' keys) and reads the processes'
CPU time from /proc before and after. PostgreSQL's processes are those of the
``postgres`` user (a local server).

    python -m bench.cpu_per_request --backend postgres --path /v1/authorize
    python -m bench.cpu_per_request --backend postgres --path /bench/noop
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from bench._common import database, machine, server
from bench.authorize import ADMIN, AGENTS, create_agents, wrk


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def pids(*pgrep_args: str) -> list[int]:
    found = subprocess.run(["pgrep", *pgrep_args], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--path", default="/v1/authorize")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with database(args.backend) as url, server(url, ADMIN) as base:
        keys = create_agents(base, AGENTS)
        wrk(base, args.path, keys, 2)  # warm up
        ours = pids("-f", "bench/_server.py|spendwarden worker")
        before = cpu_seconds(ours), cpu_seconds(pids("-u", "postgres"))
        started = time.monotonic()
        rps = wrk(base, args.path, keys, args.seconds)
        elapsed = time.monotonic() - started
        after = cpu_seconds(ours), cpu_seconds(pids("-u", "postgres"))
    requests = rps * args.seconds
    for who, spent in (("server", after[0] - before[0]), ("postgres", after[1] - before[1])):
        print(f"{who}: {spent / elapsed:.2f} cores, {spent / requests * 1e6:,.0f} µs per request")
    print(f"{args.path} on {args.backend}: {rps:,.0f} requests/s")


if __name__ == "__main__":
    main()
