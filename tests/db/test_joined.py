"""``db/joined.py``: columns sent as one joined text each are split back by PostgreSQL into
exactly the values they were, or refused (and sent as arrays) when they cannot be."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendwarden.db import joined
from spendwarden.runtime import Runtime

# Texts as the API may take them: any character PostgreSQL stores (not NUL, no surrogates),
# the separator and the null marker among them.
_texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=6)
_ARRAYS = "SELECT %b::text[], %b::bigint[], %s::text"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.one_of(st.none(), _texts, st.sampled_from(["\x1f", "\x1e", "a\x1fb", ""])), min_size=1),
    numbers=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=1),
)
def test_joined_columns_split_back_into_the_values_or_go_as_arrays(
    runtime: Runtime, texts: list[str | None], numbers: list[int | None]
) -> None:
    """A joined column is split back value for value (NULLs and empty texts included), a
    scalar parameter stays as it is, and a column that cannot be joined safely is refused:
    ``execute`` then sends the arrays. Either way the statement gets the same values."""
    assert joined.column(numbers) is not None  # integers never hold a separator
    holds_a_mark = any(v is not None and ("\x1f" in v or "\x1e" in v) for v in texts)
    assert (joined.column(texts) is None) == (holds_a_mark or texts == [""])
    assert (joined.params([texts, numbers, "scalar"]) is None) == (joined.column(texts) is None)
    with runtime.ledger.store.autocommit() as dbapi:
        row = joined.execute(dbapi, _ARRAYS, [texts, numbers, "scalar"]).fetchone()
    assert row == (texts, numbers, "scalar")


def test_split_sql_rewrites_only_the_array_placeholders() -> None:
    sql = "SELECT * FROM unnest(%b::text[], %b::bigint[]) WHERE x = %s AND y = %b"
    assert joined.split_sql(sql) == (
        "SELECT * FROM unnest(string_to_array(%s::text, E'\\x1f', E'\\x1e')::text[], "
        "string_to_array(%s::text, E'\\x1f', E'\\x1e')::bigint[]) WHERE x = %s AND y = %b"
    )
