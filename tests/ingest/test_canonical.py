from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendwarden.errors import InvalidAmount, ValidationFailed
from spendwarden.events import SpendEvent, TokenUsage
from spendwarden.ingest.canonical import ParseError, parse_event, parse_ndjson_or_array

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def event(**fields: Any) -> dict[str, Any]:
    return {"agent_id": "researcher", "amount_usd": "0.0045", **fields}


def parse(raw: object, **kwargs: Any) -> SpendEvent:
    return parse_event(raw, now=NOW, **kwargs).event


def code_of(raw: object) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_event(raw, now=NOW)
    return caught.value.code, caught.value.details


def test_minimal_event_gets_defaults() -> None:
    parsed = parse_event(event(), now=NOW)
    assert parsed.needs_pricing is False
    assert parsed.event == SpendEvent(agent_id="researcher", amount=4_500, occurred_at=NOW, source="api")


def test_full_event() -> None:
    raw = event(
        amount_usd=1.25,
        rail="x402",
        vendor="api.weather.dev",
        tool="forecast",
        endpoint="https://api.weather.dev/v1/forecast",
        model=None,
        kind="payment",
        status="failed",
        attempt=3,
        task_id="t-1",
        user_id="u-9",
        counterparty_agent_id="seller.bot",
        description="a forecast",
        metadata={"a": [1, {"b": 2}]},
        source="import",
        external_id="row-17",
        occurred_at="2025-06-01T11:00:00Z",
        currency="EUR",
        original_amount="1.15",
        original_currency="eur",
    )
    result = parse(raw)
    assert result.amount == 1_250_000
    assert result.occurred_at == datetime(2025, 6, 1, 11, tzinfo=UTC)
    assert (result.original_amount, result.original_currency) == ("1.15", "EUR")
    assert (result.kind, result.status, result.attempt, result.source) == ("payment", "failed", 3, "import")
    assert result.counterparty_agent_id == "seller.bot"
    assert result.metadata == {"a": [1, {"b": 2}]}


def test_default_source_comes_from_the_door() -> None:
    assert parse(event(), default_source="import").source == "import"
    assert parse(event(source="api"), default_source="import").source == "api"


@pytest.mark.parametrize(
    ("value", "micros"), [(2, 2_000_000), ("0.000001", 1), (0.1, 100_000), ("1e-6", 1), (0, 0)]
)
def test_amount_forms(value: object, micros: int) -> None:
    assert parse(event(amount_usd=value)).amount == micros


@pytest.mark.parametrize(
    "value", [-1, "-0.01", "NaN", float("nan"), float("inf"), "0.0000001", 1e13, True, "", [1]]
)
def test_bad_amounts(value: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_event(event(amount_usd=value), now=NOW)
    assert caught.value.details["field"] == "amount_usd"


def test_usage_instead_of_amount_needs_pricing() -> None:
    raw = {
        "agent_id": "a1",
        "usage": {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 30},
    }
    parsed = parse_event(raw, now=NOW)
    assert parsed.needs_pricing is True
    assert parsed.provider == "anthropic"
    assert parsed.event.amount == 0
    assert parsed.event.model == "claude-sonnet-4-5"
    assert parsed.event.usage == TokenUsage(input=30)


def test_usage_with_model_at_top_level() -> None:
    parsed = parse_event({"agent_id": "a1", "model": "gpt-4o", "usage": {"input_tokens": 1}}, now=NOW)
    assert parsed.event.model == "gpt-4o"
    assert parsed.provider is None


def test_usage_and_amount_keeps_amount() -> None:
    parsed = parse_event(event(usage={"model": "gpt-4o", "input_tokens": 3, "output_tokens": 1}), now=NOW)
    assert parsed.needs_pricing is False
    assert parsed.event.amount == 4_500
    assert parsed.event.usage == TokenUsage(input=3, output=1)


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"agent_id": "a"}, "missing_field", "amount_usd"),
        ({"amount_usd": 1}, "missing_field", "agent_id"),
        (event(agent_id="Bad Agent"), "invalid_field", "agent_id"),
        (event(agent_id="x" * 65), "invalid_field", "agent_id"),
        (event(agent_id=7), "invalid_field", "agent_id"),
        (event(counterparty_agent_id="UP"), "invalid_field", "counterparty_agent_id"),
        (event(rail="Wire Transfer"), "invalid_field", "rail"),
        (event(source=""), "invalid_field", "source"),
        (event(kind="lunch"), "invalid_field", "kind"),
        (event(status="pending"), "invalid_field", "status"),
        (event(attempt=0), "invalid_field", "attempt"),
        (event(attempt=True), "invalid_field", "attempt"),
        (event(attempt="2"), "invalid_field", "attempt"),
        (event(vendor="v" * 257), "invalid_field", "vendor"),
        (event(vendor=5), "invalid_field", "vendor"),
        (event(description="d" * 2001), "invalid_field", "description"),
        (event(currency="EUR"), "unsupported_currency", "currency"),
        (event(original_amount="3"), "invalid_field", "original_currency"),
        (event(original_amount="-3", original_currency="SAT"), "invalid_field", "original_amount"),
        (event(original_amount="1e40", original_currency="SAT"), "invalid_field", "original_amount"),
        (event(amount=5), "unknown_field", "amount"),
        (event(recorded_at="2025-01-01T00:00:00Z"), "unknown_field", "recorded_at"),
        (
            event(model="gpt-4o", usage={"model": "gpt-4.1", "input_tokens": 1}),
            "invalid_field",
            "usage.model",
        ),
        (event(usage={"model": "m", "input_tokens": 1, "cache_read_tokens": 2}), "invalid_usage", "usage"),
        (event(metadata=[1]), "invalid_field", "metadata"),
        (event(metadata={"k": "x" * 9000}), "invalid_field", "metadata"),
        (event(metadata={"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}), "invalid_field", "metadata"),
        (event(occurred_at="2025-06-01T11:00:00"), "invalid_field", "occurred_at"),
        (event(occurred_at="yesterday"), "invalid_field", "occurred_at"),
        (event(occurred_at=(NOW + timedelta(minutes=6)).isoformat()), "invalid_field", "occurred_at"),
        ([event()], "invalid_field", ""),
    ],
)
def test_bad_events(raw: object, code: str, field: str) -> None:
    assert code_of(raw)[0] == code
    assert code_of(raw)[1]["field"] == field


def test_occurred_at_accepts_offsets_and_a_little_clock_skew() -> None:
    assert parse(event(occurred_at="2025-06-01T14:00:00+02:00")).occurred_at == NOW
    skewed = NOW + timedelta(minutes=4)
    assert parse(event(occurred_at=skewed.isoformat())).occurred_at == skewed


def test_ndjson_keeps_good_lines_around_a_bad_one() -> None:
    body = b'{"agent_id": "a", "amount_usd": 1}\n{broken\n\n{"agent_id": "b", "amount_usd": "2"}\n'
    items = parse_ndjson_or_array(body)
    assert items[0] == {"agent_id": "a", "amount_usd": 1}
    assert isinstance(items[1], ParseError)
    assert items[1].line == 2
    assert items[1].to_dict()["details"] == {"line": 2}
    assert items[2] == {"agent_id": "b", "amount_usd": "2"}


def test_json_array_body() -> None:
    assert parse_ndjson_or_array(b' [{"a": 1}, 2, "x"]') == [{"a": 1}, 2, "x"]
    assert parse_ndjson_or_array(b"\xef\xbb\xbf[]") == []


def test_malformed_array_is_one_error() -> None:
    items = parse_ndjson_or_array(b'[{"a": 1},')
    assert len(items) == 1
    assert isinstance(items[0], ParseError)


def test_bulk_then_parse_end_to_end() -> None:
    lines = [json.dumps(event(external_id=f"e{i}")) for i in range(3)] + [
        '{"agent_id": "BAD", "amount_usd": 1}'
    ]
    results = []
    for item in parse_ndjson_or_array("\n".join(lines).encode()):
        try:
            results.append(parse_event(item, now=NOW).event.external_id)
        except ValidationFailed as exc:
            results.append(exc.code)
    assert results == ["e0", "e1", "e2", "invalid_field"]


@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_decimal_strings_are_exact(amount: Decimal) -> None:
    assert parse(event(amount_usd=str(amount))).amount == int(amount * 1_000_000)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = "agent_id amount_usd usage rail kind status attempt metadata occurred_at currency original_amount"
field_names = st.sampled_from(
    [*FIELDS.split(), "original_currency", "vendor", "counterparty_agent_id", "bogus"]
)


@given(st.dictionaries(field_names, json_values, max_size=8))
def test_garbage_events_give_validation_errors(raw: dict[str, object]) -> None:
    try:
        parse_event(raw, now=NOW)
    except ValidationFailed:
        pass


@given(
    st.fixed_dictionaries(
        {"agent_id": st.just("a")}, optional={"amount_usd": json_values, "usage": json_values}
    )
)
def test_garbage_amounts_and_usage_give_validation_errors(raw: dict[str, object]) -> None:
    try:
        parse_event(raw, now=NOW)
    except ValidationFailed:
        pass


@given(st.binary(max_size=300))
def test_any_body_splits_without_raising(body: bytes) -> None:
    for item in parse_ndjson_or_array(body):
        assert (
            isinstance(item, ParseError)
            or item is None
            or isinstance(item, (dict, list, str, int, float, bool))
        )


def test_json_null_means_not_given() -> None:
    raw = event(rail=None, kind=None, status=None, attempt=None, source=None, metadata=None, occurred_at=None)
    assert parse(raw) == parse(event())


def test_long_endpoint_is_allowed() -> None:
    url = "https://api.example.com/" + "p" * 900
    assert parse(event(endpoint=url)).endpoint == url
    assert code_of(event(endpoint=url + "p" * 200))[1]["field"] == "endpoint"


def test_ndjson_whose_lines_are_arrays_keeps_its_lines() -> None:
    items = parse_ndjson_or_array(b'[1]\n{"agent_id": "a", "amount_usd": 1}\n[oops\n')
    assert items[:2] == [[1], {"agent_id": "a", "amount_usd": 1}]
    assert isinstance(items[2], ParseError)
    assert items[2].line == 3


def test_pretty_printed_array() -> None:
    assert parse_ndjson_or_array(b'[\n  {"a": 1},\n  {"b": 2}\n]\n') == [{"a": 1}, {"b": 2}]
