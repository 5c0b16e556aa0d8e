"""Schema migrations: released steps are frozen, and every earlier file migrates forward.

The store's own upgrade tests (data kept across each upgrade) are in
`test_store.py`; here: the steps themselves, and the judge cache's schema.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from examiner.judge.cache import CACHE_MIGRATIONS, VerdictCache
from examiner.store import MIGRATIONS, Migration, Store, StoreError
from examiner.store.migrations import apply_migrations

# sha256 of each released step (see `step_hash`). A released step is never
# edited: a database that already applied it would never see the change. If
# this test fails, put the step back as it was and append a new one instead.
RELEASED_STORE_STEPS = {
    1: "f860f3ac6a983030d0143e4eecae8cfbb84ac6842886bd3d9b4d930211768f18",
    2: "4dff4de95cbb2392470196b731dd922479b30b1e6eb56a6857d6b18e34e2d118",
    3: "046f049aa48508074b3b965f05c64e3d4025bfba01c0fc8eda307ef4e17b0be9",
    4: "d0fc8e0a94606cd7c8e30bb9918540bebb4ff7ca51a2c4ce0e9e3d98984523ba",
    5: "6ac502bf90f81303de612f76fb3177705e538cd94a57e422c80ee4416fa63172",
}
RELEASED_CACHE_STEPS = {
    1: "71d7e0695128889832a1368e1d6d2563db7077bc61dc309a7eaf7677ac7454bb",
}

# The judge cache's schema as examiner wrote it before the cache had migrations.
CACHE_BEFORE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    card_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def step_hash(step: Migration) -> str:
    """Everything a step is: its number, its name and its SQL, byte for byte."""
    text = json.dumps([step.version, step.name, list(step.statements)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def schema(db: Path) -> dict[str, str]:
    """Every table and index of a file with the SQL that makes it (whitespace aside)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name != 'schema_migrations'"
        ).fetchall()
    finally:
        conn.close()
    return {name: " ".join(sql.split()) for name, sql in rows}


# --- released steps are frozen -------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "released"),
    [
        pytest.param(MIGRATIONS, RELEASED_STORE_STEPS, id="store"),
        pytest.param(CACHE_MIGRATIONS, RELEASED_CACHE_STEPS, id="judge-cache"),
    ],
)
def test_released_steps_are_never_edited(
    steps: tuple[Migration, ...], released: dict[int, str]
) -> None:
    assert [s.version for s in steps] == list(range(1, len(steps) + 1))
    # Every released step is still there, unchanged; new steps only come after them.
    assert len(steps) >= len(released)
    for step in steps[: len(released)]:
        assert step_hash(step) == released[step.version], (
            f"released migration {step.version} ({step.name!r}) was edited: "
            "restore it and append a new step"
        )


def test_a_new_step_must_be_numbered_next(tmp_path: Path) -> None:
    gap = (*MIGRATIONS, Migration(len(MIGRATIONS) + 2, "skips a number", ("SELECT 1",)))
    with pytest.raises(ValueError, match="expected"):
        Store.open(tmp_path / "x.db", migrations=gap)


# --- every earlier version migrates forward ------------------------------------------------


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
def test_a_store_at_each_earlier_version_migrates_to_the_current_schema(
    tmp_path: Path, version: int
) -> None:
    fresh = tmp_path / "fresh.db"
    Store.open(fresh).close()
    old = tmp_path / "old.db"
    Store.open(old, migrations=MIGRATIONS[:version]).close()
    with Store.open(old) as store:
        assert store.schema_version() == len(MIGRATIONS)
    assert schema(old) == schema(fresh)
    conn = sqlite3.connect(old)
    applied = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [tuple(r) for r in applied] == [(m.version, m.name) for m in MIGRATIONS]
    conn.close()


def test_steps_are_applied_one_at_a_time(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    for version in range(1, len(MIGRATIONS) + 1):
        with Store.open(db, migrations=MIGRATIONS[:version]) as store:
            assert store.schema_version() == version


# --- the judge cache -----------------------------------------------------------------------


def old_cache(path: Path, *rows: tuple[str, str]) -> Path:
    """A cache file as examiner wrote it before its schema had migrations."""
    conn = sqlite3.connect(path)
    conn.execute(CACHE_BEFORE_MIGRATIONS)
    for key, verdict in rows:
        conn.execute(
            "INSERT INTO verdicts VALUES (?, 'm', 'v1', 'c1', ?, 10, 5, 0)", (key, verdict)
        )
    conn.commit()
    conn.close()
    return path


def test_a_cache_written_before_migrations_opens_and_keeps_its_verdicts(tmp_path: Path) -> None:
    path = old_cache(tmp_path / "judge-cache.sqlite", ("k1", '{"v": 1}'), ("k2", '{"v": 2}'))
    cache = VerdictCache(path)
    try:
        got = cache.get("k1")
        assert cache.broken is None
        assert got is not None and (got.verdict, got.tokens_in, got.tokens_out) == (
            '{"v": 1}',
            10,
            5,
        )
        assert cache.contains("k2")
        cache.put(
            "k3", model="m", prompt_version="v1", card_id="c1", verdict="{}", tokens_in=1,
            tokens_out=1,
        )  # fmt: skip
        assert cache.contains("k3")
    finally:
        cache.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 3
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert names == [m.name for m in CACHE_MIGRATIONS]
    conn.close()


def test_a_new_cache_has_the_same_schema_as_an_adopted_one(tmp_path: Path) -> None:
    new, adopted = tmp_path / "new.sqlite", old_cache(tmp_path / "old.sqlite")
    for path in (new, adopted):
        cache = VerdictCache(path)
        assert cache.get("nothing") is None and cache.broken is None
        cache.close()
    assert schema(new) == schema(adopted)


def test_a_cache_from_a_newer_examiner_is_switched_off_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "judge-cache.sqlite"
    newer = (*CACHE_MIGRATIONS, Migration(len(CACHE_MIGRATIONS) + 1, "future", ("SELECT 1",)))
    conn = sqlite3.connect(path)
    apply_migrations(conn, newer, path=path)
    conn.close()
    cache = VerdictCache(path)
    assert cache.get("k") is None
    assert cache.broken is not None and "newer examiner" in cache.broken
    cache.close()


def test_only_the_tables_a_schema_adopts_are_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(StoreError, match="not written by examiner") as caught:
        apply_migrations(conn, CACHE_MIGRATIONS, path=path, adopts=frozenset({"verdicts"}))
    assert caught.value.setting is None
    conn.close()
    with pytest.raises(StoreError, match="not written by examiner") as refused:
        Store.open(path)
    assert refused.value.setting == "db"  # the CLI adds its flag
