"""Analytics endpoints (viewer or admin token): summary, timeseries, agent profile,
forecast and recommendations. Every answer comes from rollups (``spendwarden.analytics``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from spendwarden.analytics import forecast as forecast_mod
from spendwarden.analytics import profile, recommend, windows
from spendwarden.analytics import summary as summary_mod
from spendwarden.analytics.reader import Scope
from spendwarden.api.deps import RuntimeDep, ViewerDep
from spendwarden.api.schemas import ErrorResponse, Moment

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}

WindowQ = Annotated[str | None, Query(description="15m, 1h, 24h, 7d, 30d or mtd (default 24h).")]
FromQ = Annotated[Moment | None, Query(alias="from", description="Window start (ISO-8601, minute-aligned).")]
ToQ = Annotated[Moment | None, Query(description="Window end, exclusive (ISO-8601, minute-aligned).")]
AgentQ = Annotated[str | None, Query(max_length=64, description="Only this agent.")]
OwnerQ = Annotated[str | None, Query(max_length=200, description="Only agents of this owner.")]


@router.get("/summary", responses=ERRORS)
def summary(
    viewer: ViewerDep,
    runtime: RuntimeDep,
    window: WindowQ = None,
    from_: FromQ = None,
    to: ToQ = None,
    group_by: Annotated[str, Query(description="Comma-separated dimensions.")] = ",".join(
        summary_mod.DEFAULT_GROUP_BY
    ),
    agent_id: AgentQ = None,
    owner: OwnerQ = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="Keys per breakdown; the rest sum into (other).")
    ] = 50,
) -> dict[str, Any]:
    """Total, count, breakdowns per dimension and top users for a window."""
    now = runtime.clock.now()
    win = windows.resolve(now, window, from_, to)
    dims = [d.strip() for d in group_by.split(",") if d.strip()]
    return summary_mod.summary(runtime.store, runtime.settings, now, win, dims, Scope(agent_id, owner), limit)


@router.get("/timeseries", responses=ERRORS)
def timeseries(
    viewer: ViewerDep,
    runtime: RuntimeDep,
    bucket: Annotated[str, Query(description="minute, hour or day.")] = "hour",
    window: WindowQ = None,
    from_: FromQ = None,
    to: ToQ = None,
    dimension: Annotated[
        str | None, Query(description="Split into one series per key of this dimension.")
    ] = None,
    agent_id: AgentQ = None,
    owner: OwnerQ = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Series kept; the rest sum into (other).")] = 20,
) -> dict[str, Any]:
    """Spend and calls per bucket, per key of a dimension (or one total series)."""
    now = runtime.clock.now()
    win = windows.resolve(now, window, from_, to)
    return summary_mod.timeseries(
        runtime.store, runtime.settings, now, win, bucket, dimension, Scope(agent_id, owner), limit
    )


@router.get("/agents/{agent_id}", responses=ERRORS)
def agent_profile(agent_id: str, viewer: ViewerDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Velocity and baseline, cap utilisation, cost per task, retries, failures, mixes,
    burn rate and the anomaly score of one agent."""
    return profile.agent_profile(runtime.store, agent_id, runtime.clock.now())


@router.get("/forecast", responses=ERRORS)
def forecast(
    viewer: ViewerDep, runtime: RuntimeDep, agent_id: AgentQ = None, owner: OwnerQ = None
) -> dict[str, Any]:
    """Month-end projection (fleet by default) with its backtested accuracy."""
    return forecast_mod.forecast(runtime.store, runtime.clock.now(), Scope(agent_id, owner))


@router.get("/recommendations", responses=ERRORS)
def recommendations(
    viewer: ViewerDep,
    runtime: RuntimeDep,
    agent_id: AgentQ = None,
    owner: OwnerQ = None,
    shift_pct: Annotated[
        float, Query(ge=0, le=100, description="Share of tokens moved in the what-if.")
    ] = 50.0,
) -> dict[str, Any]:
    """Suggested daily and monthly caps per agent, and cheaper-model what-ifs."""
    return recommend.recommendations(runtime.store, runtime.clock.now(), Scope(agent_id, owner), shift_pct)
