"""Alert latency and the write-path cost of the detectors (not a test).

1. Latency: a real ``spendwarden serve`` process, a real webhook receiver on 127.0.0.1 and a
   webhook channel pointing at it. While a few threads keep authorize+settle load on the
   server, fresh agents with a $1 daily cap each record a $2 spend: a ``cap_breach`` alert.
   Measured: the transaction's ``recorded_at`` → the receiver holding the signed alert.
   Target p99 ≤ 1 s.
2. Detector cost: embedded authorize+settle rate with the signals observer installed vs
   removed, alternating phases in one run. Target ratio ≥ 0.8.

    python bench/alert_latency.py [--backends sqlite,postgres] [--alerts 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import database, free_port, machine, percentile
from spendwarden.config import Settings
from spendwarden.events import SpendEvent
from spendwarden.ledger.agents import AgentSpec
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.runtime import build_runtime
from spendwarden.signals.plugin import SignalsObserver

TOKEN = "bench-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    """A webhook receiver that notes when each alert's transaction arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                alert = orjson.loads(body)["alert"]
                txn = alert["figures"].get("transaction_id")
                if alert["rule"] == "cap_breach" and txn:
                    with outer.lock:
                        outer.arrived.setdefault(txn, now)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "SPENDWARDEN_ADMIN_TOKEN": TOKEN, "SPENDWARDEN_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendwarden.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def create_agent(client: httpx.Client, agent_id: str, **body: Any) -> str:
    r = client.post("/v1/agents", json={"id": agent_id, "tier": "custom", **body}, headers=AUTH)
    r.raise_for_status()
    return str(r.json()["api_key"])


def background_load(
    base: str, threads: int, stop: threading.Event, counter: list[int]
) -> list[threading.Thread]:
    def run(n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            key = {"Authorization": f"Bearer {create_agent(client, f'load-{n}')}"}
            while not stop.is_set():
                hold = client.post(
                    "/v1/authorize", json={"amount_usd": "0.01", "vendor": "openai"}, headers=key
                )
                client.post(
                    f"/v1/authorizations/{hold.json()['id']}/settle",
                    json={"amount_usd": "0.009"},
                    headers=key,
                )
                counter[0] += 1

    workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    return workers


def latency(kind: str, alerts: int, load_threads: int) -> dict[str, Any]:
    receiver = Receiver()
    with database(kind) as url:
        proc, base = start_server(url)
        stop, counter = threading.Event(), [0]
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                client.post(
                    "/v1/channels",
                    json={"type": "webhook", "config": {"url": receiver.url}, "min_severity": "critical"},
                    headers=AUTH,
                ).raise_for_status()
                keys = [create_agent(client, f"trip-{i}", caps={"daily": "1.00"}) for i in range(alerts)]
                load = background_load(base, load_threads, stop, counter)
                assert load
                time.sleep(1.0)
                started, recorded = time.time(), {}
                for key in keys:
                    r = client.post(
                        "/v1/transactions",
                        json={"amount_usd": "2.00"},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    txn = r.json()["transaction"]
                    recorded[txn["id"]] = datetime.fromisoformat(
                        txn["recorded_at"].replace("Z", "+00:00")
                    ).timestamp()
                    time.sleep(0.02)
                deadline = time.time() + 60
                while len(receiver.arrived) < len(recorded) and time.time() < deadline:
                    time.sleep(0.05)
                load_ops = counter[0] / (time.time() - started)
        finally:
            stop.set()
            proc.terminate()
            proc.wait(30)
            receiver.close()
    got = [receiver.arrived[t] - recorded[t] for t in recorded if t in receiver.arrived]
    return {
        "backend": kind,
        "alerts": len(recorded),
        "delivered": len(got),
        "p50_ms": percentile(got, 50) * 1000,
        "p99_ms": percentile(got, 99) * 1000,
        "max_ms": max(got) * 1000 if got else float("nan"),
        "load_ops": load_ops,
    }


def detector_cost(kind: str, seconds: float, rounds: int) -> dict[str, Any]:
    """Embedded authorize+settle per second with the signals observer on vs off (alternating)."""
    with database(kind) as url:
        runtime = build_runtime(Settings(database_url=url, admin_token=TOKEN))
        try:
            ledger = runtime.ledger
            ledger.create_agent(AgentSpec(id="bench", tier="custom"), "bench")
            observers = ledger.core.observers
            signals = next(o for o in observers if isinstance(o, SignalsObserver))
            rates: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(rounds):
                for on in (True, False):
                    if on and signals not in observers:
                        observers.append(signals)
                    if not on and signals in observers:
                        observers.remove(signals)
                    rates[on].append(_authorize_settle_rate(ledger, seconds))
        finally:
            runtime.close()
    with_signals, without = sum(rates[True]) / rounds, sum(rates[False]) / rounds
    return {"backend": kind, "on": with_signals, "off": without, "ratio": with_signals / without}


def _authorize_settle_rate(ledger: Any, seconds: float) -> float:
    n, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        hold = ledger.authorize("bench", AuthorizeRequest(amount=10_000, vendor="openai", tool="search"))
        ledger.settle(
            "bench", hold["id"], SpendEvent(agent_id="bench", amount=9_000, vendor="openai", tool="search")
        )
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgres")
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--load-threads", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="per detector-cost phase")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()} (nproc {os.cpu_count()})")
    print()
    print("| backend | alerts | delivered | p50 | p99 | max | background authorize+settle/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in args.backends.split(","):
        r = latency(kind, args.alerts, args.load_threads)
        print(
            f"| {kind} | {r['alerts']} | {r['delivered']} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms "
            f"| {r['max_ms']:.0f} ms | {r['load_ops']:.0f} |"
        )
    print()
    print("| backend | authorize+settle/s, detectors on | off | ratio |")
    print("| --- | --- | --- | --- |")
    for kind in args.backends.split(","):
        c = detector_cost(kind, args.seconds, args.rounds)
        print(f"| {kind} | {c['on']:.0f} | {c['off']:.0f} | {c['ratio']:.2f} |")


if __name__ == "__main__":
    main()
