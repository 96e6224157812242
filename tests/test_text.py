"""``text.nul_at``: where a NUL hides in a string or in JSON-like containers of strings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spendwarden.text import NUL, nul_at

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_it_names_the_path_to_the_nul() -> None:
    assert nul_at("plain", "vendor") is None
    assert nul_at("a\x00b", "vendor") == "vendor"
    assert nul_at({"team": ["ok", "b\x00d"]}, "labels") == "labels.team.1"
    assert nul_at({"k\x00": "v"}, "metadata") == "metadata"  # keys are text too
    assert nul_at({"n": 1, "x": None, "t": True}, "metadata") is None


@given(JSON)
def test_it_finds_a_nul_exactly_when_the_json_holds_one(value: object) -> None:
    assert (nul_at(value, "v") is not None) == _holds_nul(value)


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
