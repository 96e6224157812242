"""Every table, grouped by the part of the design that owns it.

Importing this package registers all tables on ``metadata``; Alembic's migrations must
produce exactly this schema (``tests/db/test_migrations.py``).
"""

from spendwarden.db.tables import analytics as analytics
from spendwarden.db.tables import core as core
from spendwarden.db.tables import ingest as ingest
from spendwarden.db.tables import signals as signals
from spendwarden.db.tables import web as web
from spendwarden.db.tables.meta import metadata as metadata

__all__ = ["metadata"]
