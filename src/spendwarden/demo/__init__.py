"""``spendwarden demo``: a fleet, a week of history and a live scenario of incidents.

Everything goes through the public HTTP API, against a throwaway server on SQLite in a
temporary directory (or a running one with ``--no-server``).
"""
