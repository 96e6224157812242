"""Ring advancing zeroes exactly the slots it passes (slices instead of a loop per slot)."""

from __future__ import annotations

import random

from spendwarden.signals.state import advance_dicts, advance_ints


def _reference(lists: list[list[int]], head: int, new: int, size: int) -> int:
    if new <= head:
        return head
    if head < 0 or new - head >= size:
        for lst in lists:
            lst[:] = [0] * size
        return new
    for i in range(head + 1, new + 1):
        for lst in lists:
            lst[i % size] = 0
    return new


def test_advance_ints_matches_slot_by_slot() -> None:
    rng = random.Random(2)
    for size in (1, 2, 10, 12, 25, 35, 60):
        for _ in range(400):
            values = [rng.randrange(1, 9) for _ in range(size)]
            head = rng.randrange(-1, 200)
            new = head + rng.randrange(-2, 2 * size + 2)
            mine, ref = [values[:], values[:]], [values[:], values[:]]
            assert advance_ints(tuple(mine), head, new, size) == _reference(ref, head, new, size)
            assert mine == ref


def test_advance_dicts_keeps_totals_equal_to_the_sum() -> None:
    rng = random.Random(4)
    slots: list[dict[str, int]] = [{} for _ in range(10)]
    totals: dict[str, int] = {}
    head = 0
    for _ in range(2000):
        head = advance_dicts(slots, totals, head, head + rng.choice([0, 0, 1, 3, 12]))
        key, value = rng.choice("abc"), rng.randrange(1, 5)
        slot = slots[head % 10]
        slot[key] = slot.get(key, 0) + value
        totals[key] = totals.get(key, 0) + value
        expected: dict[str, int] = {}
        for s in slots:
            for k, v in s.items():
                expected[k] = expected.get(k, 0) + v
        assert totals == expected
