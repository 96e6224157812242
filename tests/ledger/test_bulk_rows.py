"""The bulk path's tight loops give exactly what the one-row functions give: same row values,
same hashes (the canonical form is unchanged), same live payloads, same counters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from spendwarden.clock import FrozenClock, iso, iso_us
from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ids import encode_ulid, new_id, new_ids
from spendwarden.ledger.bulk import public_of, record_batch
from spendwarden.ledger.chain import TXN_COLUMNS, TXN_FIELDS, row_hash
from spendwarden.ledger.context import TxContext
from spendwarden.ledger.record import build_row, chain_row, counter_sums, counter_updates, seal_rows
from spendwarden.ledger.render import transaction_public
from spendwarden.ledger.types import Agent
from spendwarden.runtime import Runtime
from tests.factories import make_agent, spend

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FROM_CROCKFORD = str.maketrans("ABCDEFGHJKMNPQRSTVWXYZ", "ABCDEFGHIJKLMNOPQRSTUV")


def _ctx() -> TxContext:
    agent = Agent.from_row(
        {
            "id": "bot", "name": None, "owner": "team", "tier": "custom", "status": "active",
            "status_reason": None, "caps": "{}", "halt_rules": "{}", "policy": "{}",
            "active_hours": None, "task_scope": None, "silence_minutes": 15, "labels": "{}",
            "signals": "{}", "created_at": 0, "updated_at": 0,
        }
    )  # fmt: skip
    state = {"agent_id": "bot", "seq": 7, "head_id": "txn_prev", "head_hash": "ab" * 32, "held": 0}
    return TxContext(conn=None, store=None, agent=agent, state=state, now=NOW)  # type: ignore[arg-type]


def _events() -> list[SpendEvent]:
    rng = random.Random(3)
    plus_two = timezone(timedelta(hours=2))
    events = []
    for i in range(300):
        when: datetime | None = [
            NOW - timedelta(seconds=rng.randrange(10**6), microseconds=rng.randrange(10**6)),
            (NOW - timedelta(hours=rng.randrange(100))).astimezone(plus_two),
            (NOW - timedelta(minutes=i)).replace(tzinfo=None),
            None,
        ][i % 4]
        events.append(
            SpendEvent(
                agent_id="bot",
                amount=rng.randrange(0, 10**7),
                rail=["llm_api", "stripe", "x402"][i % 3],
                vendor=None if i % 5 == 0 else "openai",
                tool="search" if i % 2 else None,
                endpoint="/v1/chat" if i % 7 == 0 else None,
                model="gpt-4o" if i % 3 == 0 else None,
                usage=TokenUsage(input=i, output=2 * i, cache_read=i // 2) if i % 6 == 0 else None,
                kind="llm_call" if i % 4 else "payment",
                status=["settled", "failed", "refunded", "voided", "settled"][i % 5],
                attempt=1 + i % 3,
                task_id=f"task-{i % 4}" if i % 3 else None,
                user_id="u1" if i % 8 == 0 else None,
                counterparty_agent_id="other" if i % 11 == 0 else None,
                description='a "quoted" é description' if i % 9 == 0 else None,
                metadata={"b": [1, 2, {"x": None}], "a": "é"} if i % 10 == 0 else {},
                source="import",
                external_id=f"e{i}" if i % 13 else None,
                occurred_at=when,
                original_amount="1.5" if i % 12 == 0 else None,
                original_currency="EUR" if i % 12 == 0 else None,
                price_version="v1" if i % 6 == 0 else None,
            )
        )
    return events


def test_seal_rows_matches_build_and_chain_row() -> None:
    events = _events()
    fast, slow = _ctx(), _ctx()
    sealed = seal_rows(fast, events)
    for event, values in zip(events, sealed, strict=True):
        row = build_row(slow, event, None)
        row["id"] = values[0]  # ids are fresh either way
        chain_row(slow, row)
        assert dict(zip(TXN_COLUMNS, values, strict=True)) == row
        assert values[-1] == row_hash(values[-2], row, TXN_FIELDS)
    assert fast.state == slow.state


def test_public_of_matches_transaction_public() -> None:
    ctx = _ctx()
    recorded = iso(ctx.now_us)
    assert recorded is not None
    for values in seal_rows(ctx, _events()):
        row: dict[str, Any] = dict(zip(TXN_COLUMNS, values, strict=True))
        assert public_of(values, recorded) == transaction_public(row)


def test_iso_matches_datetime_isoformat() -> None:
    """``clock.iso`` renders a minute's head once; it must say what datetime says."""
    rng = random.Random(1)
    samples = [0, -1, 1, 59_999_999, 60_000_000, -86_400_000_000, 253_402_300_799_999_999]
    samples += [rng.randrange(-6 * 10**16, 2 * 10**17) for _ in range(20_000)]
    samples += [rng.randrange(0, 2 * 10**9) * 1_000_000 for _ in range(20_000)]
    for micros in samples:
        expected = (EPOCH + timedelta(microseconds=micros)).isoformat().replace("+00:00", "Z")
        assert iso_us(micros) == iso(micros) == expected, micros


def test_encode_ulid_is_crockford_base32_of_the_value() -> None:
    rng = random.Random(2)
    for value in [0, 1, 2**128 - 1, *(rng.getrandbits(128) for _ in range(5_000))]:
        text = encode_ulid(value)
        assert len(text) == 26 and int(text.translate(_FROM_CROCKFORD), 32) == value


def test_counter_sums_match_per_row_counting() -> None:
    rows = [dict(zip(TXN_COLUMNS, v, strict=True)) for v in seal_rows(_ctx(), _events())]
    expected: dict[tuple[str, str], list[int]] = {}
    from spendwarden.ledger.record import counter_delta, counter_keys

    for row in rows:
        for pair in counter_keys(row["occurred_at"], row["task_id"]):
            acc = expected.setdefault(pair, [0, 0])
            acc[0] += counter_delta(row["status"], row["amount"])
            acc[1] += 1
    got = {(u["scope"], u["period"]): [u["amount"], u["count"]] for u in counter_updates("bot", rows)}
    assert got == expected
    items = [(r["status"], r["amount"], r["occurred_at"], r["task_id"]) for r in rows]
    assert counter_sums("bot", items) == counter_updates("bot", rows)


def test_new_ids_are_consecutive_ulids_across_a_carry(monkeypatch: Any) -> None:
    import spendwarden.ids as ids

    ids_ = new_ids("txn_", 3000)
    assert len(set(ids_)) == 3000 and ids_ == sorted(ids_)
    assert ids_[-1] == "txn_" + encode_ulid(ids._last)
    assert new_id("txn_") > ids_[-1]
    # Force the 30-bit boundary inside one call: the leading characters are re-encoded.
    monkeypatch.setattr(ids, "_last", (ids._last | (2**30 - 1)) + (1 << 100) - 5)
    start = ids._last + 1
    crossing = new_ids("", 10)
    assert crossing == [encode_ulid(v) for v in range(start, start + 10)]


def test_bulk_rows_verify_and_render_like_single_appends(runtime: Runtime, clock: FrozenClock) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "bot")
    seen: list[dict[str, Any]] = []
    runtime.ledger.core.publishers.append(
        lambda events: seen.extend(e.payload for e in events if e.name == "transaction.recorded")
    )
    events = [
        spend("bot", "0.10", usage=TokenUsage(input=10, output=5), metadata={"k": "v"}, task_id="t"),
        spend("bot", "0.20", status="refunded", occurred_at=clock.now() - timedelta(days=1)),
        spend("bot", "0.30", external_id="x", source="file"),
    ]
    result = record_batch(ledger.core, events)
    assert len(result.accepted) == 3
    assert ledger.verify()["ok"]
    with ledger.store.read() as conn:
        from spendwarden.db import queries as q

        stored = {r["id"]: r for r in q.recent_transactions(conn, "bot", 10)}
    assert [p["id"] for p in seen] == list(result.accepted.values())
    for payload in seen:
        assert payload == transaction_public(stored[payload["id"]])
