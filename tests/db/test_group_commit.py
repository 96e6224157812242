"""Store.write under concurrency: every unit commits exactly once, a failing unit rolls back
alone, and on SQLite with ``synchronous=FULL`` concurrent units share commits (group
commit) without any caller returning before the commit that holds its unit; with
``synchronous=NORMAL`` (the default) each unit commits on its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, text

from spendwarden.db.group_commit import GroupCommitter
from spendwarden.db.store import Store


@pytest.fixture(params=["normal", "full"])
def store(database_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    s = Store(database_url, sqlite_synchronous=request.param)
    with s.write() as conn:
        conn.execute(text("CREATE TABLE gc_probe (n INTEGER PRIMARY KEY, thread TEXT)"))
    yield s
    s.dispose()


def count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM gc_probe")).scalar_one())


def test_concurrent_units_all_commit_once(store: Store) -> None:
    def unit(i: int) -> int:
        with store.write() as conn:
            conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (:n, :t)"), {"n": i, "t": "x"})
        # Returned: the row must already be visible to a fresh reader (committed).
        with store.read() as conn:
            seen = conn.execute(text("SELECT count(*) FROM gc_probe WHERE n = :n"), {"n": i}).scalar_one()
        return int(seen)

    with ThreadPoolExecutor(16) as pool:
        seen = list(pool.map(unit, range(400)))
    assert seen == [1] * 400
    assert count(store) == 400


def test_failing_unit_rolls_back_alone(store: Store) -> None:
    barrier = threading.Barrier(8)

    def unit(i: int) -> str:
        barrier.wait()
        try:
            with store.write() as conn:
                conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (:n, 'x')"), {"n": i})
                if i % 2:
                    conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (:n, 'dup')"), {"n": i})
        except Exception:
            return "failed"
        return "ok"

    for _round in range(5):
        with store.write() as conn:
            conn.execute(text("DELETE FROM gc_probe"))
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(unit, range(8)))
        assert outcomes == ["ok", "failed"] * 4
        with store.read() as conn:
            rows = sorted(r[0] for r in conn.execute(text("SELECT n FROM gc_probe")))
        assert rows == [0, 2, 4, 6]


def sqlite_store(tmp_path: object, synchronous: str = "full") -> Store:
    store = Store(f"sqlite:///{tmp_path}/gc.db", sqlite_synchronous=synchronous)
    with store.write() as conn:
        conn.execute(text("CREATE TABLE gc_probe (n INTEGER PRIMARY KEY, thread TEXT)"))
    return store


def queued_behind_first(store: Store, n: int, body: Callable[[int, Connection], None]) -> list[str]:
    """Unit 0 holds the writer until units 1..n-1 are all queued behind it, so they land in
    one batch; each unit inserts its row, then runs ``body``. Returns "ok"/"failed" per unit."""
    gate, entered = threading.Event(), threading.Event()

    def unit(i: int) -> str:
        try:
            with store.write() as conn:
                conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (:n, 'x')"), {"n": i})
                if i == 0:
                    entered.set()
                    gate.wait(5)
                body(i, conn)
        except Exception:
            return "failed"
        return "ok"

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(unit, 0)]
        entered.wait(5)
        futures += [pool.submit(unit, i) for i in range(1, n)]
        while store._group._waiting < n - 1:
            threading.Event().wait(0.01)
        gate.set()
        return [f.result(timeout=10) for f in futures]


def nothing(_i: int, _conn: Connection) -> None:
    pass


def commits_of_queued_units(store: Store, n: int) -> int:
    """How many commits ``n`` units queued behind a first one took."""
    commits = 0
    original = GroupCommitter._close

    def counting_close(self: GroupCommitter, batch: object, **kw: object) -> None:
        nonlocal commits
        commits += 1
        original(self, batch, **kw)  # type: ignore[arg-type]

    GroupCommitter._close = counting_close  # type: ignore[method-assign]
    try:
        outcomes = queued_behind_first(store, n, nothing)
    finally:
        GroupCommitter._close = original  # type: ignore[method-assign]
    assert outcomes == ["ok"] * n
    assert count(store) == n
    return commits


def test_sqlite_units_share_commits_when_a_commit_waits_for_the_disk(tmp_path: object) -> None:
    store = sqlite_store(tmp_path, "full")
    assert commits_of_queued_units(store, 12) < 12  # queued units shared commits
    store.dispose()


def test_sqlite_units_commit_alone_when_a_commit_is_a_wal_append(tmp_path: object) -> None:
    """synchronous=NORMAL: no fsync to share, so every unit is its own transaction."""
    store = sqlite_store(tmp_path, "normal")
    assert commits_of_queued_units(store, 12) == 12
    store.dispose()


@pytest.mark.parametrize(("setting", "pragma"), [("normal", 1), ("full", 2)])
def test_sqlite_synchronous_setting_reaches_every_connection(
    tmp_path: object, setting: str, pragma: int
) -> None:
    store = sqlite_store(tmp_path, setting)
    with store.write() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    with store.hot_read() as dbapi:
        assert dbapi.execute("PRAGMA synchronous").fetchone()[0] == pragma
    store.dispose()


def test_sqlite_synchronous_refuses_other_values(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        Store(f"sqlite:///{tmp_path}/gc.db", sqlite_synchronous="off")


def test_failed_commit_fails_every_unit_in_the_batch(tmp_path: object) -> None:
    store = sqlite_store(tmp_path)
    original = GroupCommitter._close

    def failing_close(self: GroupCommitter, batch: object, *, rollback: bool, error: object) -> None:
        if not rollback:
            batch.end(commit=False)  # type: ignore[attr-defined]
            self._batch = None
            batch.finish(OSError("disk full"))  # type: ignore[attr-defined]
            return
        original(self, batch, rollback=rollback, error=error)  # type: ignore[arg-type]

    GroupCommitter._close = failing_close  # type: ignore[method-assign]
    try:
        outcomes = queued_behind_first(store, 6, nothing)
    finally:
        GroupCommitter._close = original  # type: ignore[method-assign]
    assert outcomes == ["failed"] * 6
    assert count(store) == 0
    store.dispose()


def test_a_broken_batch_fails_its_units_and_never_hangs(tmp_path: object) -> None:
    """If the batch's transaction breaks under a joined unit (here its savepoint is gone
    when the unit ends), every unit in the batch fails at once and the writer stays usable."""
    store = sqlite_store(tmp_path)

    def drop_savepoint(i: int, conn: Connection) -> None:
        if i:
            conn.connection.dbapi_connection.execute("RELEASE unit")  # type: ignore[union-attr]

    assert queued_behind_first(store, 2, drop_savepoint) == ["failed", "failed"]
    assert count(store) == 0
    with store.write() as conn:
        conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (7, 'after')"))
    assert count(store) == 1
    store.dispose()


def test_driver_only_units_commit_without_sqlalchemy_bookkeeping(tmp_path: object) -> None:
    """A unit that only uses the driver connection (the authorization path) is committed by
    the batch on the driver; one that used SQLAlchemy is ended through SQLAlchemy. Either
    way the next unit starts clean."""
    store = sqlite_store(tmp_path)
    for i in range(3):
        with store.write() as conn:
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "INSERT INTO gc_probe (n, thread) VALUES (?, 'raw')", (i,)
            )
            assert not conn.in_transaction()  # SQLAlchemy never began
        with store.write() as conn:
            conn.execute(text("INSERT INTO gc_probe (n, thread) VALUES (:n, 'core')"), {"n": 100 + i})
            assert conn.in_transaction()
        assert not store._writer().in_transaction()
        assert not store._writer().connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    assert count(store) == 6
    store.dispose()


def test_wal_checkpoints_run_off_the_write_path(tmp_path: object) -> None:
    """The writer never checkpoints (``wal_autocheckpoint=0``); the checkpointer thread does,
    after ``every`` commits, so the WAL does not grow without bound."""
    store = sqlite_store(tmp_path)
    dbapi = store._writer().connection.dbapi_connection
    assert dbapi.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # type: ignore[union-attr]
    checkpointer = store._checkpointer
    assert checkpointer is not None
    before = checkpointer.checkpoints
    for i in range(1500):
        with store.write() as conn:
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "INSERT INTO gc_probe (n, thread) VALUES (?, 'x')", (i,)
            )
    deadline = threading.Event()
    for _ in range(100):
        if checkpointer.checkpoints > before:
            break
        deadline.wait(0.05)
    assert checkpointer.checkpoints > before
    with store.read() as conn:
        frames = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames is not None and frames[1] < 1500  # the log was restarted since the first commits
    store.dispose()
    assert checkpointer._thread.is_alive() is False
