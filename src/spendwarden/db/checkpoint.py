"""SQLite WAL checkpoints off the write path.

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
one commit copies every changed page into the database file and syncs both files, and an
authorization that happens to be that commit pays for all of it (profiled: a quarter of
the average commit). The writer connection therefore runs with ``wal_autocheckpoint=0``
and this thread checkpoints instead, on its own connection, after every ``every`` commits
or once a second while there are any. sqlite3 releases the GIL while it works, so
writers go on meanwhile (a PASSIVE checkpoint never blocks them).

SQLite restarts the WAL from its beginning only when a checkpoint has copied *every*
frame, and under a steady stream of commits a concurrent checkpoint never quite does: the
log would grow without end. So each round is two passes: the first copies the bulk while
writers go on; the second, holding the process's write lock, copies the few frames
written meanwhile, so the next commit restarts the log.

Other connections (another process's CLI command, say) keep SQLite's own autocheckpoint.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager


class Checkpointer:
    """Counts commits (``committed``) and checkpoints the WAL in a daemon thread."""

    def __init__(
        self,
        path: str,
        writer_held: Callable[[], AbstractContextManager[object]],
        *,
        every: int = 1000,
        idle_seconds: float = 1.0,
    ) -> None:
        self._path = path
        self._writer_held = writer_held  # GroupCommitter.writer_held
        self._every = every
        self._idle = idle_seconds
        self._pending = 0
        self._wake = threading.Event()
        self._stop = False
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="spendwarden-wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Called by the writer after each commit (no lock: a lost increment only delays
        a checkpoint by one commit)."""
        self._pending += 1
        if self._pending >= self._every:
            self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop:
                self._wake.wait(self._idle)
                self._wake.clear()
                if self._pending and not self._stop:
                    self._pending = 0
                    self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            with self._writer_held():
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error:  # busy or closing: the next round tries again
            pass

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)
