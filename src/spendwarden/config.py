"""Settings: one typed object, every field with a default and help text.

Values come from ``SPENDWARDEN_*`` environment variables (or a ``.env`` file).
``docs/configuration.md`` is generated from this class and a test fails when they drift.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spendwarden.ledger.horizon import MIN_RETENTION_DAYS

# How SQLite commits (``sqlite_synchronous``); ``db.engine`` checks its callers against this.
SqliteSynchronous = Literal["normal", "full"]
_POSTGRES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPENDWARDEN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./spendwarden.db",
        description="SQLite file (default, WAL) or postgresql://user@host/db (psycopg 3).",
    )
    admin_token: str | None = Field(
        None,
        description="Admin bearer token. When unset, the first start creates one, prints it once "
        "and stores only its hash.",
    )
    environment: str = Field(
        "development", description="`development` or `production`; production refuses unsafe defaults."
    )
    host: str = Field("127.0.0.1", description="Address `spendwarden serve` binds to.")
    port: int = Field(8000, description="Port `spendwarden serve` listens on.")
    hold_ttl_seconds: int = Field(
        600, ge=1, description="Open authorizations expire after this many seconds."
    )
    authorize_in_database: bool = Field(
        True,
        description="PostgreSQL: authorize in one round trip with the `spendwarden_authorize` "
        "function (migration 0008) instead of four from the server; off takes the locked path for "
        "every authorization. Requests with an idempotency key always take the locked path.",
    )
    authorize_batch_size: int = Field(
        64,
        ge=1,
        description="PostgreSQL: authorizations made at the same time share one call of "
        "`spendwarden_authorize_batch` (migration 0010) and one commit, up to this many; each caller "
        "is answered after that commit. 1 makes every authorization its own call and commit.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body accepted (413 beyond); ingest uses ingest_max_body_bytes.",
    )
    ingest_max_body_bytes: int = Field(
        64 * 1_048_576, ge=1024, description="Largest body accepted by the bulk ingest endpoint."
    )
    retention_days: int = Field(90, ge=1, description="Raw ledger rows older than this may be pruned.")
    counter_retention_days: int = Field(
        3,
        ge=MIN_RETENTION_DAYS,
        description="Cap counters of hours, days, weeks and months that closed more than this many "
        "days ago are deleted (hourly, in the background). A spend recorded later into such a window "
        "rebuilds its counter exactly from the rollups, so caps and halt rules see the same sums.",
    )
    sweep_interval_seconds: float = Field(
        1.0, gt=0, description="How often the sweeper expires holds and runs time-based rules."
    )
    rate_limit_per_second: float = Field(
        0, ge=0, description="Requests per second allowed per API key (0 = unlimited); excess gets 429."
    )
    rate_limit_burst: int = Field(200, ge=1, description="Burst size for the per-key rate limit.")
    db_pool_size: int = Field(20, ge=1, description="PostgreSQL connection pool size per process.")
    database_session_url: str | None = Field(
        None,
        description="PostgreSQL: a direct (or session-pooled) connection for what needs a session of "
        "its own: the replicas' leader locks, the live stream's LISTEN/NOTIFY and migrations. Set it "
        "when database_url goes through a transaction-mode pooler such as PgBouncer (which hands each "
        "transaction to any server connection). Unset: database_url.",
    )
    db_prepared_statements: bool = Field(
        True,
        description="PostgreSQL: prepare repeated statements on the server. Set false when "
        "database_url goes through a transaction-mode pooler that does not track prepared "
        "statements (PgBouncer before 1.21, or with max_prepared_statements = 0).",
    )
    sqlite_synchronous: SqliteSynchronous = Field(
        "normal",
        description="SQLite: `normal` commits without waiting for the disk (an acknowledged write "
        "survives the process being killed, but an OS crash or power cut can take back the last "
        "commits); `full` waits for an fsync on every commit, and concurrent writes share one "
        "(group commit). PostgreSQL follows its own `synchronous_commit`.",
    )
    opentelemetry: bool | None = Field(
        None,
        description="FastAPI's OpenTelemetry spans, metrics and logs for each request, sent to the "
        "providers of an OpenTelemetry SDK configured in the process. Unset: on when the "
        "environment configures OpenTelemetry (any `OTEL_*` variable, as `opentelemetry-instrument` "
        "reads), off otherwise, so a request does not ask OpenTelemetry whether a provider exists "
        "(~3 µs each). Prometheus metrics are at `/metrics` either way.",
    )
    warm_on_start: bool = Field(
        False,
        description="`serve`: read the tables every authorization reads (agents, their state, keys "
        "and counters) into memory in the background as the server starts, as `spendwarden warm` "
        "does, so that after a restart, a restore or a failover the first request of each agent "
        "does not read its pages from disk one at a time. The server answers meanwhile.",
    )
    sqlite_loop_commit: bool = Field(
        True,
        description="SQLite: the authorizations the server answers in the same event-loop iteration "
        "are decided together in one transaction and share its commit (each is answered after "
        "that commit). Off: each commits on its own.",
    )
    worker_process: bool | None = Field(
        None,
        description="`serve`: run the periodic work (hold expiry, signals tick, analytics fold) in "
        "a child process (`spendwarden worker`) instead of the server's threads, so a tick over "
        "many agents never holds the GIL that requests wait for. Unset: on for PostgreSQL, off "
        "for SQLite (where it is refused: a second process's live events would reach no stream).",
    )
    gil_switch_interval_ms: float = Field(
        0.0,
        ge=0,
        description="`serve`: how long a busy Python thread may keep the GIL before another gets it "
        "(0 = Python's 5 ms). Lower it when background work (a signals tick over many agents) "
        "stretches request latency.",
    )
    gc_freeze: bool = Field(
        True,
        description="`serve` and `worker`: once started, move the objects that live as long as the "
        "process (modules, the app, its routes) out of the garbage collector's full collections "
        "(`gc.freeze`). Without it each full collection paused the server 55-65 ms under load, "
        "about once a second.",
    )
    gc_young_threshold: int = Field(
        20_000,
        ge=0,
        description="`serve` and `worker`: allocations between the garbage collector's "
        "young-generation collections (Python's default 700; 0 keeps it). Each collection walks "
        "the objects a request has not yet let go; at 20,000 a server carried ~5 % more "
        "authorizations a second.",
    )
    analytics_minute_retention_days: int = Field(
        7, ge=1, description="Per-minute rollups are pruned after this many days (hourly and daily are kept)."
    )
    analytics_fold_batch: int = Field(
        5000, ge=1, description="Fleet journal rows folded per transaction by the sweeper."
    )
    metrics_require_token: bool = Field(
        True, description="`/metrics` needs the admin or a viewer token (set false for an open scrape)."
    )
    signals: dict[str, Any] = Field(
        default_factory=dict,
        description='Fleet-wide detector thresholds as JSON (e.g. {"velocity_ratio": 4}); '
        "each agent's `signals` overrides them.",
    )
    notify_max_attempts: int = Field(
        200,
        ge=1,
        description="Attempts per alert delivery before it is marked failed (backoff caps at 5 min).",
    )
    notify_timeout_seconds: float = Field(
        5.0, gt=0, description="HTTP timeout for one notification (Slack, Telegram, PagerDuty, webhook)."
    )
    # ingest (prices, inbound and outbound webhooks)
    llm_fallback_price: dict[str, str] | None = Field(
        None,
        description="USD per million tokens for models no price source knows, as JSON "
        '(e.g. {"input": "5", "output": "15"}); unset = such usage is refused with price_unknown.',
    )
    stripe_webhook_secret: str | None = Field(
        None, description="Stripe webhook signing secret(s) (whsec_…); comma-separated during rotation."
    )
    stripe_tolerance_seconds: int = Field(
        300, ge=1, description="Oldest accepted Stripe signature timestamp, in seconds from now."
    )
    stripe_usd_rates: dict[str, str] = Field(
        default_factory=dict,
        description='USD per major unit for non-USD Stripe amounts, e.g. {"eur": "1.08"}.',
    )
    l402_btc_usd: str | None = Field(
        None,
        description="BTC/USD rate for L402 invoices that carry none (unset = such invoices are refused).",
    )
    ingest_batch_size: int = Field(
        5000, ge=1, description="Events written per bulk batch by the ingest endpoint, imports and watch."
    )
    webhook_max_attempts: int = Field(
        15, ge=1, description="Attempts per outbound webhook delivery before it is marked failed."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, description="HTTP timeout for one outbound webhook delivery."
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.admin_token is not None and len(self.admin_token) < 24:
            raise ValueError("SPENDWARDEN_ADMIN_TOKEN must be at least 24 characters in production")
        if self.environment not in ("development", "production"):
            raise ValueError("environment must be 'development' or 'production'")
        if self.database_session_url is not None and not all(
            url.startswith(_POSTGRES) for url in (self.database_url, self.database_session_url)
        ):
            raise ValueError("database_session_url is for PostgreSQL: both URLs must be postgresql://")
        return self

    @property
    def session_url(self) -> str:
        """Where a connection that keeps session state goes (``database_session_url``)."""
        return self.database_session_url or self.database_url
