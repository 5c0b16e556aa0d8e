"""The SQLite store: migrations, concurrency settings, reviews applied to grades."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from examiner.models import Flag, Grade, KeyPointResult
from examiner.store import (
    MIGRATIONS,
    Review,
    Store,
    StoredGrade,
    StoreError,
    apply_review,
    find_answer,
    latest_grades,
    latest_records,
    override_grade,
)


def make_grade(
    student: str = "ana", card: str = "c1", answer: str = "an answer", **kw: object
) -> Grade:
    fields: dict[str, object] = {
        "student_id": student,
        "card_id": card,
        "answer": answer,
        "score": 0.5,
        "points": 1.0,
        "max_points": 2.0,
        "label": "partial",
        "key_points": [
            KeyPointResult(
                key_point_id="k1", text="k", coverage=0.5, status="partial", similarity=0.5
            )
        ],
        "scorer": "lexical",
        "confidence": 0.3,
        "flags": [Flag.NEEDS_REVIEW],
        "row": 2,
    }
    fields.update(kw)
    return Grade.model_validate(fields)


def new_run(store: Store, rubric: str = "r1", config: str = "cfg", subs: str = "s1") -> int:
    return store.create_run(
        rubric_path="rubric.yaml",
        rubric_title="Deck",
        rubric_hash=rubric,
        calibration={"model": "lexical"},
        models={"scorer": "lexical"},
        settings={},
        config_hash=config,
        submissions_path="class.csv",
        submissions_hash=subs,
    )


def only(store: Store) -> StoredGrade:
    (stored,) = latest_records(store)
    return stored


# --- migrations ----------------------------------------------------------------------------


def test_migrations_are_append_only_numbered_steps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len({m.name for m in MIGRATIONS}) == len(MIGRATIONS)
    assert len(MIGRATIONS) >= 3  # practice history comes in a later step


def test_an_empty_file_is_created_at_the_current_version(tmp_path: Path) -> None:
    db = tmp_path / "examiner.db"
    with Store.open(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= {"runs", "submissions", "grades", "reviews", "problems", "practice"}
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert names == [m.name for m in MIGRATIONS]


def test_opening_again_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "examiner.db"
    Store.open(db).close()
    with Store.open(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        count = store._query("SELECT count(*) AS n FROM schema_migrations")[0]["n"]
        assert count == len(MIGRATIONS)


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
def test_each_earlier_version_is_upgraded_with_its_data(tmp_path: Path, version: int) -> None:
    db = tmp_path / "old.db"
    with Store.open(db, migrations=MIGRATIONS[:version]) as old:
        assert old.schema_version() == version
        run_id = new_run(old)
        old.add_grades(run_id, [(make_grade(), None)])
        stored = next(iter(old.find_grades("ana", "c1")))
        old.add_review(stored, "override", score=0.9, note="fair", author="teacher")

    with Store.open(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        (run,) = store.runs()
        assert (run.id, run.rubric_title, run.status) == (run_id, "Deck", "running")
        (grade,) = latest_grades(store)
        assert grade.score == 0.9 and grade.points == 1.8 and grade.label == "correct"
        assert grade.notes[-1] == "overridden by teacher: fair (was 0.50)"
        # The tables the upgrade added work.
        store.add_problems(run_id, [])
        assert store.run_stats(run_id).answers == 1


@pytest.mark.parametrize(
    ("sql", "params", "refusal"),
    [
        pytest.param(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', '2099-01-01')",
            (len(MIGRATIONS) + 1,),
            r"newer examiner \(schema version \d+; this one knows",
            id="a-database-from-a-newer-examiner",
        ),
        pytest.param(
            "UPDATE schema_migrations SET name = 'something else' WHERE version = 1",
            (),
            "incompatible version",
            id="a-renamed-step",
        ),
    ],
)
def test_steps_this_examiner_does_not_know_are_refused(
    tmp_path: Path, sql: str, params: tuple[object, ...], refusal: str
) -> None:
    db = tmp_path / "examiner.db"
    Store.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=refusal):
        Store.open(db)


def test_files_that_are_not_examiner_databases_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, just some bytes " * 50)
    with pytest.raises(StoreError, match="not an examiner database"):
        Store.open(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not written by examiner"):
        Store.open(other)


def test_a_missing_database_is_not_created_when_it_should_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        Store.open(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path)


# --- grades and reviews --------------------------------------------------------------------


def test_a_run_holds_one_grade_per_answer_slot(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.db") as store:
        run_id = new_run(store)
        assert store.add_grades(run_id, [(make_grade(row=2), None)]) == [None]
        # The same slot again (another row, or another text) is refused, with the row held.
        clash = store.add_grades(run_id, [(make_grade(answer="other", row=9), None)])
        assert clash == [2]
        assert store.run_stats(run_id).answers == 1
        with pytest.raises(sqlite3.IntegrityError):
            store._conn.execute(
                "INSERT INTO grades (run_id, submission_id, student_id, card_id, answer_id, "
                "answer_hash, score, points, max_points, label, scorer, confidence, "
                "grade_json, created_at) SELECT run_id, submission_id, student_id, card_id, "
                "answer_id, answer_hash, score, points, max_points, label, scorer, "
                "confidence, grade_json, created_at FROM grades"
            )


def test_reviews_follow_the_answer_across_runs(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.db") as store:
        first = new_run(store)
        store.add_grades(first, [(make_grade(), None)])
        store.add_review(only(store), "override", score=0.25, note="missed", author="t")
        second = new_run(store, subs="s2")
        store.add_grades(second, [(make_grade(score=0.7, points=1.4), None)])
        stored = only(store)
        assert stored.run_id == second and stored.review is not None
        assert next(latest_grades(store)).score == 0.25
        # A changed answer is a new answer: the old review does not apply to it.
        third = new_run(store, subs="s3")
        store.add_grades(third, [(make_grade(answer="rewritten"), None)])
        assert only(store).review is None
        assert next(latest_grades(store, run_id=first)).score == 0.25


def test_latest_grades_keep_to_the_latest_rubric(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.db") as store:
        old = new_run(store, rubric="old", config="a")
        store.add_grades(old, [(make_grade(student="gone"), None)])
        new = new_run(store, rubric="new", config="b")
        store.add_grades(new, [(make_grade(student="ana"), None)])
        assert [g.student_id for g in latest_grades(store)] == ["ana"]
        assert [g.student_id for g in latest_grades(store, run_id=old)] == ["gone"]
        with pytest.raises(StoreError, match="no run 99"):
            list(latest_grades(store, run_id=99))


def test_apply_review() -> None:
    grade = make_grade(flags=[Flag.POSSIBLE_INJECTION, Flag.NEEDS_REVIEW])
    stored = StoredGrade(1, 1, 1, "h", grade, None)
    assert apply_review(grade, stored.review) is grade
    from examiner.store import Review

    override = Review(1, "override", 1.0, 0.5, "right after all", "kim", "now")
    done = apply_review(grade, override)
    assert (done.score, done.points, done.label, done.confidence) == (1.0, 2.0, "correct", 1.0)
    assert done.flags == [Flag.POSSIBLE_INJECTION]  # reviewed: no longer needs review
    assert done.notes[-1] == "overridden by kim: right after all (was 0.50)"
    accepted = apply_review(grade, Review(2, "accept", None, 0.5, "", "kim", "now"))
    assert accepted.score == 0.5 and accepted.notes[-1] == "accepted by kim"


def test_an_override_needs_a_score_in_range(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.db") as store:
        store.add_grades(new_run(store), [(make_grade(), None)])
        with pytest.raises(ValueError):
            store.add_review(only(store), "override", score=1.5)
        with pytest.raises(ValueError):
            store.add_review(only(store), "override")


def test_the_default_author_is_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ms-jones")
    with Store.open(tmp_path / "x.db") as store:
        store.add_grades(new_run(store), [(make_grade(), None)])
        assert store.add_review(only(store), "accept").author == "ms-jones"


# --- concurrency ---------------------------------------------------------------------------


def test_readers_are_not_blocked_by_an_open_write(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with Store.open(db) as store:
        run_id = new_run(store)
        store.add_grades(run_id, [(make_grade(student="a"), None)])
        with store.transaction() as conn:
            conn.execute("UPDATE runs SET rubric_title = 'changing'")
            # Another process reads the last committed state at once.
            reader = sqlite3.connect(db, timeout=0.1)
            started = time.perf_counter()
            assert reader.execute("SELECT count(*) FROM grades").fetchone()[0] == 1
            assert reader.execute("SELECT rubric_title FROM runs").fetchone()[0] == "Deck"
            assert time.perf_counter() - started < 0.1
            reader.close()
            with Store.open(db, create=False) as other:
                assert [r.rubric_title for r in other.runs()] == ["Deck"]


def test_override_grade_finds_the_one_answer_and_records_the_teacher(tmp_path: Path) -> None:
    with Store.open(tmp_path / "x.db") as store:
        run_id = new_run(store)
        store.add_grades(
            run_id,
            [
                (make_grade(card="c1"), None),
                (make_grade(card="c2", answer_id="a1"), None),
                (make_grade(card="c2", answer_id="a2", answer="again"), None),
            ],
        )
        stored, review = override_grade(store, "ana", "c1", 0.75, "fair", author="kim")
        assert stored.grade.card_id == "c1" and stored.review is None  # as it was
        assert (review.action, review.score, review.previous_score) == ("override", 0.75, 0.5)
        assert only_review(store, "c1") == review
        with pytest.raises(StoreError, match="more than once") as twice:
            find_answer(store, "ana", "c2")
        assert twice.value.setting == "answer_id"  # the CLI names its flag
        assert find_answer(store, "ana", "c2", answer_id="a2").grade.answer == "again"
        with pytest.raises(StoreError, match="their cards: c1, c2"):
            override_grade(store, "ana", "c3", 0.5, "x")
        with pytest.raises(StoreError, match="no grades for student 'bo'"):
            override_grade(store, "bo", "c1", 0.5, "x")
        with pytest.raises(StoreError, match="no run 9"):
            find_answer(store, "ana", "c1", run_id=9)


def only_review(store: Store, card: str) -> Review | None:
    (stored,) = store.find_grades("ana", card)
    return stored.review


def test_store_errors_name_the_setting_not_a_flag(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as missing:
        Store.open(tmp_path / "typo.db", create=False)
    assert missing.value.setting == "db" and "--" not in str(missing.value)
