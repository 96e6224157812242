"""Custom LLM prices from the ``prices`` table, served to the ledger as its pricer.

Every replica keeps the table in memory and re-reads it when the ``prices`` change counter
moves; it looks at that one integer at most once a second, so a price set through any
replica is in force everywhere within about a second, and the hot path stays a dict lookup.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spendwarden.clock import iso, to_us
from spendwarden.db import queries_ingest as qi
from spendwarden.db.store import Store
from spendwarden.errors import NotFound
from spendwarden.events import TokenUsage
from spendwarden.ingest.common import check_str, decimal_of
from spendwarden.ingest.pricing import ModelPrice, PriceBook, make_pricer
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import LedgerCore

VERSION_KEY = "prices"
ANY_PROVIDER = "*"
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
Pricer = Any


@dataclass(frozen=True)
class PriceSpec:
    """One custom price as the admin API takes it: USD per million tokens as decimal text."""

    input: str
    output: str
    cache_read: str | None = None
    cache_write: str | None = None
    version: str = "custom"

    def model_price(self) -> ModelPrice:
        return ModelPrice(self.input, self.output, self.cache_read, self.cache_write)


class PriceCatalog:
    """The ledger pricer: custom prices (each with its own version label), then
    genai-prices, then the configured fallback; never a silent zero."""

    def __init__(self, store: Store, fallback: ModelPrice | None = None, *, check_every: float = 1.0) -> None:
        self.store, self.fallback, self.check_every = store, fallback, check_every
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._version = -1
        self._pricers: dict[str, Pricer] = {}
        self._labels: dict[str, str] = {}
        self._default = make_pricer(PriceBook({}, version="settings", fallback=fallback))

    def invalidate(self) -> None:
        """Re-read on the next call (this process just changed a price)."""
        with self._lock:
            self._checked_at = float("-inf")

    def __call__(self, provider: str | None, model: str, usage: TokenUsage, at: datetime) -> tuple[int, str]:
        self._refresh()
        key = _key(provider, model) if provider else None
        label = (self._labels.get(key) if key else None) or self._labels.get(model.lower())
        pricer = self._pricers.get(label) if label is not None else None
        result: tuple[int, str] = (pricer or self._default)(provider, model, usage, at)
        return result

    def _refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < self.check_every:
                return
            self._checked_at = now
        with self.store.read() as conn:
            version = qi.get_version(conn, VERSION_KEY)
            if version == self._version:
                return
            rows = qi.list_prices(conn)
        self._load(rows, version)

    def _load(self, rows: list[dict[str, Any]], version: int) -> None:
        books: dict[str, dict[str, ModelPrice]] = {}
        labels: dict[str, str] = {}
        for row in rows:
            key = (
                row["model"].lower()
                if row["provider"] == ANY_PROVIDER
                else _key(row["provider"], row["model"])
            )
            books.setdefault(row["version"], {})[key] = ModelPrice(
                row["input"], row["output"], row["cache_read"], row["cache_write"]
            )
            labels[key] = row["version"]
        pricers = {label: make_pricer(PriceBook(prices, version=label)) for label, prices in books.items()}
        with self._lock:
            self._pricers, self._labels, self._version = pricers, labels, version


def _key(provider: str, model: str) -> str:
    return f"{provider.lower()}/{model.lower()}"


def check_spec(provider: str, model: str, spec: PriceSpec) -> None:
    """Refuse bad prices before anything is written (422 with the field)."""
    check_str("provider", provider, max_len=64)
    check_str("model", model, max_len=200)
    check_str("version", spec.version, max_len=40)
    for name in PRICE_FIELDS:
        value = getattr(spec, name)
        if value is not None:
            decimal_of(f"price.{name}", value)


def put_price(core: LedgerCore, provider: str, model: str, spec: PriceSpec, *, actor: str) -> dict[str, Any]:
    """Create or replace one custom price, audited; every replica picks it up within a second."""
    check_spec(provider, model, spec)
    price = spec.model_price()
    row: dict[str, Any] = {
        "provider": provider.lower(),
        "model": model,
        **{name: _text(getattr(price, name)) for name in PRICE_FIELDS},
        "version": spec.version,
        "updated_at": to_us(core.clock.now()),
    }
    with core.store.write() as conn:
        before = qi.get_price(conn, row["provider"], model)
        qi.put_price(conn, row)
        qi.bump_version(conn, VERSION_KEY)
        _audit(core, conn, "price.set", row, actor, before=before, after=price_public(row))
    return price_public(row)


def delete_price(core: LedgerCore, provider: str, model: str, *, actor: str) -> None:
    with core.store.write() as conn:
        before = qi.get_price(conn, provider.lower(), model)
        if before is None:
            raise NotFound("No custom price for this provider and model.", provider=provider, model=model)
        qi.delete_price(conn, provider.lower(), model)
        qi.bump_version(conn, VERSION_KEY)
        _audit(core, conn, "price.deleted", before, actor, before=before, after=None)


def _audit(
    core: LedgerCore, conn: Any, action: str, row: dict[str, Any], actor: str, *, before: Any, after: Any
) -> None:
    append_audit(
        conn,
        postgres=core.store.is_postgres,
        actor=actor,
        action=action,
        target_type="price",
        target_id=f"{row['provider']}/{row['model']}",
        at=to_us(core.clock.now()),
        before=price_public(before) if isinstance(before, dict) else before,
        after=after,
    )


def _text(value: object) -> str | None:
    return None if value is None else format(value, "f")


def price_public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": row["provider"],
        "model": row["model"],
        **{f"{name}_per_mtok": row[name] for name in PRICE_FIELDS},
        "version": row["version"],
        "price_version": f"custom:{row['version']}",
        "updated_at": iso(row["updated_at"]),
    }


def list_prices(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [price_public(row) for row in qi.list_prices(conn)]
