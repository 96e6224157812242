"""Ingest: pure mappers from every rail's own records to the canonical ``SpendEvent``.

Nothing here touches a database, a network or a clock: callers pass plain data (and
``now`` where a rule needs it) and get ``SpendEvent``s or a ``spendwarden.errors``
exception back, so the HTTP receivers, file importers and tests share one mapping.
"""
