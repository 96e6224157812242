"""Cap arithmetic, property-tested: approving exactly what fits, never more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spendwarden.ledger.caps import CAP_NAMES, breaches, first_denial, headroom

amounts = st.integers(min_value=0, max_value=10**12)
caps_st = st.dictionaries(st.sampled_from(CAP_NAMES), amounts)
spent_st = st.dictionaries(st.sampled_from(CAP_NAMES), amounts)


@given(caps_st, spent_st, amounts)
def test_denial_iff_some_cap_would_be_exceeded(
    caps: dict[str, int], spent: dict[str, int], amount: int
) -> None:
    denial = first_denial(caps, spent, amount)
    over = [c for c, lim in caps.items() if (0 if c == "per_transaction" else spent.get(c, 0)) + amount > lim]
    assert (denial is None) == (not over)
    if denial is not None:
        assert denial.cap in over
        assert denial.requested == amount


@given(caps_st, spent_st, amounts)
def test_an_approved_amount_never_exceeds_headroom(
    caps: dict[str, int], spent: dict[str, int], amount: int
) -> None:
    room = headroom(caps, spent)
    if first_denial(caps, spent, amount) is None:
        assert all(amount <= r for r in room.values())
    assert all(r >= 0 for r in room.values())


@given(caps_st, spent_st)
def test_headroom_itself_is_always_approvable(caps: dict[str, int], spent: dict[str, int]) -> None:
    room = headroom(caps, spent)
    if room and all((0 if c == "per_transaction" else spent.get(c, 0)) <= lim for c, lim in caps.items()):
        assert first_denial(caps, spent, min(room.values())) is None


def test_breach_names_the_cap_with_numbers() -> None:
    found = breaches({"daily": 100, "per_transaction": 50}, {"daily": 120}, 60)
    assert [(b.cap, b.limit, b.spent, b.requested) for b in found] == [
        ("per_transaction", 50, 0, 60),
        ("daily", 100, 60, 60),
    ]
