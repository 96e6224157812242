"""Settings refuse what cannot work, with a message naming the setting."""

from __future__ import annotations

import pytest

from spendwarden.config import Settings


def test_a_session_url_is_for_postgresql() -> None:
    with pytest.raises(ValueError, match="database_session_url is for PostgreSQL"):
        Settings(database_url="sqlite:///x.db", database_session_url="postgresql://postgres@127.0.0.1/x")
    with pytest.raises(ValueError, match="database_session_url is for PostgreSQL"):
        Settings(database_url="postgresql://postgres@127.0.0.1/x", database_session_url="sqlite:///x.db")


def test_without_a_session_url_sessions_go_to_the_database_url() -> None:
    direct = "postgresql://postgres@127.0.0.1:5432/x"
    assert Settings(database_url=direct).session_url == direct
    pooled = Settings(database_url="postgresql://postgres@127.0.0.1:6432/x", database_session_url=direct)
    assert pooled.session_url == direct


def test_production_refuses_a_short_admin_token() -> None:
    with pytest.raises(ValueError, match="at least 24 characters"):
        Settings(environment="production", admin_token="short")
