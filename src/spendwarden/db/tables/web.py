"""Dashboard tables: browser sessions.

Only the SHA-256 of a session id is stored, so a copy of the database cannot be replayed
as a cookie; ``token_hash`` ties the session to the token used to sign in, so revoking or
rotating that token ends its sessions on every replica.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from spendwarden.db.tables.meta import metadata, timestamp

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("token_id", String(40)),
    Column("token_hash", String(64), nullable=False),
    Column("label", String(200)),
    timestamp("created_at"),
    timestamp("expires_at"),
    timestamp("revoked_at", nullable=True),
)
Index("ix_web_sessions_expires_at", web_sessions.c.expires_at)
