"""FastAPI's own OpenTelemetry: on where the environment configures OpenTelemetry or the
settings ask for it, off otherwise (then a request does not ask OpenTelemetry whether a
provider exists)."""

from __future__ import annotations

import os

import pytest

from spendwarden.api.app import NO_TELEMETRY, create_app, telemetry
from spendwarden.config import Settings
from spendwarden.runtime import Runtime


@pytest.mark.parametrize(
    ("asked", "environ", "on"),
    [
        (None, {}, False),
        (None, {"PATH": "/usr/bin"}, False),
        (None, {"OTEL_SERVICE_NAME": "spendwarden"}, True),
        (True, {}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
    ],
)
def test_on_where_asked_or_configured(asked: bool | None, environ: dict[str, str], on: bool) -> None:
    assert (telemetry(asked, environ) is None) == on  # None: FastAPI's default, on


def test_the_app_is_built_with_it_off_by_default(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    app = create_app(runtime, run_workers=False)
    assert app._native_telemetry.config["tracing"] is False
    assert not app._native_telemetry.enabled()
    runtime.settings = runtime.settings.model_copy(update={"opentelemetry": True})
    assert create_app(runtime, run_workers=False)._native_telemetry.config["tracing"] is not False
    assert NO_TELEMETRY == {"tracing": False, "metrics": False, "logs": False}
    assert Settings().opentelemetry is None
