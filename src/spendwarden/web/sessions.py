"""Browser sessions, stored server-side as the SHA-256 of a random id.

The cookie holds only the random id; the database holds its hash, the role and the hash of
the token used to sign in. Every request re-checks that token, so revoking or rotating it
signs its sessions out at once. The CSRF token is an HMAC of the session id: the page reads
it once from ``GET /web/session`` and sends it back in a header, which a cross-site form
or script cannot do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from spendwarden.db import queries as q
from spendwarden.db.tables.web import web_sessions
from spendwarden.ledger.admin import Principal
from spendwarden.ledger.keys import hash_secret, same_hash

SESSION_TTL_US = 12 * 3600 * 1_000_000
DASHBOARD_ROLES = ("admin", "viewer")


@dataclass(frozen=True)
class Session:
    principal: Principal
    expires_at: int


def csrf_token(session_id: str) -> str:
    """Derived, not stored: only a holder of the (HttpOnly) session id can compute it."""
    return hmac.new(session_id.encode(), b"spendwarden-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session_id), presented)


def create_session(conn: Connection, principal: Principal, token: str, now_us: int) -> tuple[str, int]:
    """Store a new session for a signed-in admin or viewer; returns (session id, expiry)."""
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now_us))
    session_id = secrets.token_urlsafe(32)
    expires_at = now_us + SESSION_TTL_US
    conn.execute(
        web_sessions.insert().values(
            id_hash=hash_secret(session_id),
            role=principal.kind,
            token_id=principal.token_id,
            token_hash=hash_secret(token),
            label=principal.label,
            created_at=now_us,
            expires_at=expires_at,
            revoked_at=None,
        )
    )
    return session_id, expires_at


def resolve_session(conn: Connection, session_id: str, now_us: int, env_token: str | None) -> Session | None:
    """The live session for this id, or None when unknown, expired, signed out or when the
    token it was opened with is no longer valid."""
    row = conn.execute(select(web_sessions).where(web_sessions.c.id_hash == hash_secret(session_id))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now_us:
        return None
    if not _token_still_valid(conn, row.token_id, row.token_hash, env_token):
        return None
    principal = Principal(kind=row.role, token_id=row.token_id, label=row.label)
    return Session(principal=principal, expires_at=row.expires_at)


def _token_still_valid(conn: Connection, token_id: str | None, token_hash: str, env: str | None) -> bool:
    if token_id is None:
        return env is not None and same_hash(hash_secret(env), token_hash)
    token = q.find_admin_token(conn, token_hash)
    return token is not None and token["id"] == token_id and token["revoked_at"] is None


def end_session(conn: Connection, session_id: str, now_us: int) -> bool:
    """Sign out: the id stops working on every replica at once."""
    result = conn.execute(
        update(web_sessions)
        .where(web_sessions.c.id_hash == hash_secret(session_id), web_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now_us)
    )
    return bool(result.rowcount)
