"""The SQLite history: schema and migrations, aggregation, durability, errors, data ownership."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from posture.history import MinuteRow
from posture.records import Break, Episode, Nudge, Recorder, Sample, SessionInfo
from posture.store import (
    HISTORY_FILE,
    MIGRATIONS,
    VERDICT_COLUMNS,
    HistoryError,
    HistoryStore,
    Migration,
    _local_iso_sql,
    _offset_pieces,
    default_path,
    migrate,
    schema_version,
)
from posture.vocabulary import Verdict
from tests.conftest import REPO

V = Verdict
T0 = datetime(2026, 11, 24, 9, 0).astimezone()
DAY = T0.date()
# "Now" for stores in these tests: after every fixed time they write (pain cannot be
# written down ahead of time), whatever the real clock and time zone say.
LATER = T0 + timedelta(days=30)


def later() -> datetime:
    return LATER


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def begin(store: HistoryStore, start: datetime = T0) -> HistoryStore:
    store.begin_session(SessionInfo(start, "0", "camera", "default"))
    return store


def minutes_of(store: HistoryStore) -> dict[int, MinuteRow]:
    """Stored minutes by their offset from T0, in minutes."""
    rows = store.minutes(T0 - timedelta(hours=2), T0 + timedelta(hours=4))
    return {round((r.start - T0).total_seconds() / 60): r for r in rows}


@pytest.fixture(params=["file", "memory"])
def store(request):
    """Every behaviour runs over the file store and the in-memory one."""
    if request.param == "file":
        history = HistoryStore(now=later)
    else:
        history = HistoryStore.in_memory(now=later)
    yield history
    history.close()


# -- schema and migrations ---------------------------------------------------------------------

# The schema a blank database has after every migration, frozen: what `sqlite_master`
# holds, whitespace folded. A change here is a change of what every posture history
# means: it comes with a new migration, never an edit of a released one.
FROZEN_SCHEMA = {
    "breaks": "CREATE TABLE breaks ( id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL "
    "REFERENCES sessions(id) ON DELETE CASCADE, start REAL NOT NULL, end REAL NOT NULL "
    "CHECK (end >= start) )",
    "calibrations": "CREATE TABLE calibrations ( id INTEGER PRIMARY KEY, at REAL NOT NULL, "
    "profile TEXT NOT NULL, view TEXT NOT NULL, frame_count INTEGER NOT NULL )",
    "episodes": "CREATE TABLE episodes ( id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL "
    "REFERENCES sessions(id) ON DELETE CASCADE, start REAL NOT NULL, end REAL NOT NULL "
    "CHECK (end >= start), verdict TEXT NOT NULL )",
    "minutes": 'CREATE TABLE "minutes" ( session_id INTEGER NOT NULL REFERENCES sessions(id) '
    "ON DELETE CASCADE, minute_start INTEGER NOT NULL CHECK (minute_start % 60 = 0), "
    "present_s REAL NOT NULL CHECK (present_s >= 0), good_s REAL NOT NULL DEFAULT 0, "
    "slouch_s REAL NOT NULL DEFAULT 0, forward_head_s REAL NOT NULL DEFAULT 0, "
    "lateral_lean_s REAL NOT NULL DEFAULT 0, too_close_s REAL NOT NULL DEFAULT 0, "
    "reclined_s REAL NOT NULL DEFAULT 0, no_person_s REAL NOT NULL DEFAULT 0, "
    "person_no_pose_s REAL NOT NULL DEFAULT 0, mean_neck_excess REAL, neck_s REAL NOT NULL "
    "DEFAULT 0, mean_trunk_excess REAL, trunk_s REAL NOT NULL DEFAULT 0, "
    "credit_s REAL NOT NULL DEFAULT 0, PRIMARY KEY (session_id, minute_start) )",
    "nudges": "CREATE TABLE nudges ( id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL "
    "REFERENCES sessions(id) ON DELETE CASCADE, at REAL NOT NULL, kind TEXT NOT NULL, "
    "message TEXT NOT NULL )",
    "pain": "CREATE TABLE pain ( id INTEGER PRIMARY KEY, at REAL NOT NULL, level INTEGER "
    "NOT NULL CHECK (level BETWEEN 0 AND 10), location TEXT NOT NULL, feels TEXT NOT NULL "
    "DEFAULT '', note TEXT NOT NULL DEFAULT '' )",
    "schema_migrations": "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
    "description TEXT NOT NULL, applied_at TEXT NOT NULL)",
    "sessions": "CREATE TABLE sessions ( id INTEGER PRIMARY KEY, started_at REAL NOT NULL, "
    "ended_at REAL, source TEXT NOT NULL, source_kind TEXT NOT NULL, profile TEXT )",
    "breaks_by_time": "CREATE INDEX breaks_by_time ON breaks (start)",
    "episodes_by_time": "CREATE INDEX episodes_by_time ON episodes (start)",
    "minutes_by_time": "CREATE INDEX minutes_by_time ON minutes (minute_start)",
    "nudges_by_time": "CREATE INDEX nudges_by_time ON nudges (at)",
    "pain_by_time": "CREATE INDEX pain_by_time ON pain (at)",
}
# The SHA-256 of each released migration's statements: editing one fails here.
RELEASED_MIGRATIONS = {
    1: "f012e1fcca3a3fc8ced5b94b41b49b0daa4044458f89224db5d04acb81ef18e5",
    2: "d10fb63327b6e77068334820e0f0cb26a48345067927a9e5c2f435910aa64ff7",
    3: "b8731f785d3bd5f0cebfe0bf83d5e4996216c6257eb2aa7f1fd572f2832d03b4",
    4: "7cb4de947931f921fc2abac96254f78f91202b4021d48ab48c288c19902362de",
}


def schema_of(conn: sqlite3.Connection) -> dict[str, str]:
    return {
        name: " ".join(sql.split())
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        )
    }


def test_a_blank_database_is_migrated_to_the_frozen_schema(_isolated_home):
    path = _isolated_home / "new" / HISTORY_FILE
    HistoryStore(path).close()
    conn = sqlite3.connect(path)
    assert schema_of(conn) == FROZEN_SCHEMA
    versions = conn.execute("SELECT version, description FROM schema_migrations").fetchall()
    assert versions == [(m.version, m.description) for m in MIGRATIONS]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_released_migrations_are_never_edited():
    digests = {
        m.version: hashlib.sha256("\n".join(m.statements).encode()).hexdigest() for m in MIGRATIONS
    }
    assert digests == RELEASED_MIGRATIONS
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def version_1_history() -> None:
    """A history as posture wrote it at schema 1: one minute of 45 s good, 15 s slouch."""
    conn = sqlite3.connect(default_path(), isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO sessions (id, started_at, source, source_kind) VALUES (1, ?, 'camera 0', "
        "'camera')",
        (T0.timestamp(),),
    )
    conn.execute(
        "INSERT INTO minutes (session_id, minute_start, present_s, good_s, slouch_s, "
        "mean_score, scored_s, mean_trunk_excess, trunk_s) VALUES (1, ?, 60, 45, 15, 80, 60, "
        "0.9, 60)",
        (round(T0.timestamp()),),
    )
    conn.close()


def test_a_version_1_history_keeps_its_minutes_through_the_migrations(_isolated_home):
    version_1_history()
    with HistoryStore() as store:
        assert store.schema_version == MIGRATIONS[-1].version
        (row,) = store.minutes(T0, at(60))
    assert row.seconds == {V.GOOD: 45, V.SLOUCH: 15}
    assert (row.mean_trunk_excess, row.trunk_s) == (0.9, 60)
    # Its score's weights, filled in as they were computed then: a mean trunk
    # excess under the threshold counts the 15 s of slouch at one half.
    assert row.credit_s == 45 + 15 * 0.5


def test_sessions_written_before_version_4_get_the_kind_of_their_source(_isolated_home):
    """Their kind was the first word of --source: "0", or a file's whole path."""
    conn = sqlite3.connect(default_path(), isolation_level=None)
    migrate(conn, MIGRATIONS[:3])
    written = {
        "0": "0",
        " 12 ": "12",
        "samples/session.mp4": "samples/session.mp4",
        "My Videos/Desk.MOV": "My",
        "photos/me.jpeg": "photos/me.jpeg",
        "photos": "photos",
        "": "unknown",
        "2": "camera",  # already a kind: left as it is
    }
    for number, (source, kind) in enumerate(written.items(), start=1):
        conn.execute(
            "INSERT INTO sessions (id, started_at, source, source_kind) VALUES (?, ?, ?, ?)",
            (number, T0.timestamp() + number, source, kind),
        )
    conn.close()
    with HistoryStore() as store:
        sessions = store.sessions(T0, at(60))
    assert {s.source: s.source_kind for s in sessions} == {
        "0": "camera",
        " 12 ": "camera",
        "samples/session.mp4": "video",
        "My Videos/Desk.MOV": "video",
        "photos/me.jpeg": "image",
        "photos": "unknown",
        "": "unknown",
        "2": "camera",
    }


def test_every_verdict_has_its_column(_isolated_home):
    """A new verdict without a migration adding its column fails here, not in a user's
    monitor."""
    HistoryStore().close()
    conn = sqlite3.connect(default_path())
    columns = {row[1] for row in conn.execute("PRAGMA table_info(minutes)")}
    assert set(VERDICT_COLUMNS.values()) <= columns
    assert set(VERDICT_COLUMNS) == set(Verdict)


def test_the_database_is_private_to_its_user(_isolated_home):
    with begin(HistoryStore()) as store:
        store.add_sample(Sample(at(1), 1.0, V.GOOD, 90))
        store.flush()
        for path in (default_path(), Path(f"{default_path()}-wal")):
            assert path.stat().st_mode & 0o777 == 0o600, path
    assert default_path() == _isolated_home / HISTORY_FILE
    nested = _isolated_home / "a" / "b"
    HistoryStore(nested / HISTORY_FILE).close()
    assert nested.stat().st_mode & 0o777 == 0o700


def test_an_existing_file_readable_by_others_is_made_private(_isolated_home):
    HistoryStore().close()
    default_path().chmod(0o644)
    HistoryStore().close()
    assert default_path().stat().st_mode & 0o777 == 0o600


def test_migrations_apply_in_order_once_and_only_the_missing_ones():
    first = Migration(1, "one", ("CREATE TABLE a (x INTEGER)",))
    second = Migration(2, "two", ("ALTER TABLE a ADD COLUMN y TEXT", "CREATE TABLE b (z)"))
    conn = sqlite3.connect(":memory:", isolation_level=None)
    assert schema_version(conn) == 0
    assert migrate(conn, [first]) == 1
    conn.execute("INSERT INTO a (x) VALUES (7)")
    assert migrate(conn, [first, second]) == 2
    assert migrate(conn, [first, second]) == 2  # nothing left to do
    assert conn.execute("SELECT x, y FROM a").fetchall() == [(7, None)]
    applied = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert applied == [(1,), (2,)]


def test_a_failing_migration_leaves_the_database_as_it_was():
    good = Migration(1, "one", ("CREATE TABLE a (x)",))
    bad = Migration(2, "broken", ("CREATE TABLE b (y)", "THIS IS NOT SQL"))
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, [good])
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [good, bad])
    assert schema_version(conn) == 1
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "b" not in names


def test_a_database_from_a_newer_posture_is_refused_untouched():
    HistoryStore().close()
    conn = sqlite3.connect(default_path())
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01')")
    conn.commit()
    conn.close()
    before = default_path().read_bytes()
    with pytest.raises(HistoryError, match="newer posture") as error:
        HistoryStore()
    assert "schema 99" in str(error.value) and "upgrade posture" in str(error.value)
    assert default_path().read_bytes() == before


# -- unreadable files are clear errors, never replaced -----------------------------------------


def test_random_bytes_are_not_a_history_and_stay_as_they_were(_isolated_home):
    junk = os.urandom(8192)
    default_path().write_bytes(junk)
    with pytest.raises(HistoryError) as error:
        HistoryStore()
    message = str(error.value)
    assert str(default_path()) in message and "not a posture history" in message
    assert "move it aside" in message and "\n" not in message
    assert default_path().read_bytes() == junk


def test_a_folder_in_place_of_the_file_is_a_clear_error(_isolated_home):
    default_path().mkdir()
    with pytest.raises(HistoryError, match="is a folder, not a file"):
        HistoryStore()


def test_another_programs_sqlite_database_is_left_alone(_isolated_home):
    conn = sqlite3.connect(default_path())
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError, match=r"not a posture history .* table 'recipes'"):
        HistoryStore()


def rollback_mode_history_of_the_future(path: Path) -> None:
    """A posture history with a schema from the future, in rollback-journal mode."""
    HistoryStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01')")
    conn.close()


@pytest.mark.parametrize("kind", ["another program's", "a newer posture's"])
def test_a_refused_file_is_not_changed_at_all_not_even_switched_to_wal(_isolated_home, kind):
    """Refusing must come before changing anything: a rollback-mode file stays in
    rollback mode (header bytes 18-19 are 1, not WAL's 2), byte for byte, mode bits too."""
    path = default_path()
    if kind == "another program's":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
        conn.close()
    else:
        rollback_mode_history_of_the_future(path)
    path.chmod(0o644)
    before = path.read_bytes()
    assert before[18:20] == b"\x01\x01"
    with pytest.raises(HistoryError, match=r"not a posture history|newer posture"):
        HistoryStore()
    with pytest.raises(HistoryError, match=r"not a posture history|newer posture"):
        HistoryStore(read_only=True)
    assert path.read_bytes() == before
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == [HISTORY_FILE]


def test_a_read_only_store_reads_an_older_history_without_upgrading_it(_isolated_home):
    version_1_history()
    before = default_path().read_bytes()
    with HistoryStore(read_only=True) as store:
        assert store.schema_version == MIGRATIONS[-1].version  # the copy it reads
        assert [m.seconds for m in store.minutes(T0, at(60))] == [{V.GOOD: 45, V.SLOUCH: 15}]
        with pytest.raises(HistoryError, match="opened for reading only"):
            store.add_pain(T0, 3)
    assert default_path().read_bytes() == before


def test_a_damaged_database_is_reported_and_not_repaired(_isolated_home):
    with begin(HistoryStore()) as store:
        for second in range(1, 3000):
            store.add_sample(Sample(at(second), 1.0, V.GOOD, 90))
        store.end_session(at(3000))
    conn = sqlite3.connect(default_path())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(default_path().read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[3 * page : 4 * page] = os.urandom(page)  # scramble one b-tree page
    default_path().write_bytes(bytes(data))
    with pytest.raises(HistoryError) as error:
        HistoryStore()
    message = str(error.value)
    assert "is damaged (malformed:" in message and "\n" not in message
    assert str(default_path()) in message and ".recover" in message
    assert default_path().read_bytes() == bytes(data)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: permissions cannot fail")
def test_an_unreadable_file_is_a_permission_error(_isolated_home):
    HistoryStore().close()
    default_path().chmod(0o000)
    try:
        with pytest.raises(HistoryError, match=r"permission denied.*chmod 600"):
            HistoryStore()
    finally:
        default_path().chmod(0o600)


# -- aggregation from scripted verdict streams -------------------------------------------------


def play(store: HistoryStore, script: list[tuple[Verdict, float, int | None]], step: float):
    """Samples every `step` seconds from T0: (verdict, seconds, score) in order."""
    clock = 0.0
    for verdict, seconds, score in script:
        for _ in range(round(seconds / step)):
            clock += step
            trunk = 1.5 if verdict is V.SLOUCH else 0.2
            store.add_sample(Sample(at(clock), step, verdict, score, 0.3, trunk))
    return clock


def test_samples_become_exact_per_minute_aggregates(store):
    begin(store)
    script = [(V.GOOD, 50, 90), (V.SLOUCH, 40, 50), (V.NO_PERSON, 30, None), (V.GOOD, 45, 100)]
    end = play(store, script, 0.5)
    store.end_session(at(end))
    rows = minutes_of(store)
    assert sorted(rows) == [0, 1, 2]
    first, second, third = rows[0], rows[1], rows[2]
    assert first.seconds == {V.GOOD: 50, V.SLOUCH: 10}
    assert second.seconds == {V.SLOUCH: 30, V.NO_PERSON: 30}
    assert third.seconds == {V.GOOD: 45}
    assert (first.present_s, second.present_s, third.present_s) == (60, 30, 45)
    assert second.mean_trunk_excess == pytest.approx((30 * 1.5 + 30 * 0.2) / 60)
    assert first.mean_trunk_excess == pytest.approx((50 * 0.2 + 10 * 1.5) / 60)


def test_a_sample_across_a_minute_boundary_is_split(store):
    begin(store)
    store.add_sample(Sample(at(58), 58.0, V.GOOD, 90))
    store.add_sample(Sample(at(63), 5.0, V.SLOUCH, 50))  # 2 s in minute 0, 3 s in minute 1
    store.flush()
    rows = minutes_of(store)
    assert rows[0].seconds == {V.GOOD: 58, V.SLOUCH: 2}
    assert rows[1].seconds == {V.SLOUCH: 3}


def test_flushing_a_partial_minute_then_continuing_never_double_counts(store):
    begin(store)
    for second in range(1, 61):
        store.add_sample(Sample(at(second), 1.0, V.GOOD if second <= 40 else V.SLOUCH, 80))
        if second % 7 == 0:
            store.flush()
            partial = minutes_of(store)[0]
            assert partial.present_s == second  # what is stored so far, no more
    store.flush()
    store.flush()
    assert minutes_of(store)[0].seconds == {V.GOOD: 40, V.SLOUCH: 20}


def test_a_clock_stepping_back_adds_to_the_stored_minute(store):
    begin(store)
    play(store, [(V.GOOD, 90, 90)], 1.0)  # minute 0 written, minute 1 half full
    store.add_sample(Sample(at(30), 10.0, V.SLOUCH, 50))  # back into minute 0
    store.add_sample(Sample(at(100), 10.0, V.GOOD, 90))  # forward again
    store.flush()
    rows = minutes_of(store)
    assert rows[0].seconds == {V.GOOD: 60, V.SLOUCH: 10}
    assert rows[1].seconds == {V.GOOD: 40}


def test_events_are_written_at_once_and_read_back(store):
    begin(store)
    store.add_episode(Episode(at(60), at(200), V.SLOUCH))
    store.add_nudge(Nudge(at(90), "posture", "Sit back and let the chair support you."))
    store.add_break(Break(at(300), at(500)))
    window = (T0, T0 + timedelta(hours=1))
    assert store.episodes(*window) == [Episode(at(60), at(200), V.SLOUCH)]
    assert store.nudges(*window) == [Nudge(at(90), "posture", store.nudges(*window)[0].message)]
    assert store.breaks(*window) == [Break(at(300), at(500))]
    rows = store.days(DAY, DAY)
    assert len(rows.episodes) == 1 and len(rows.nudges) == 1 and len(rows.breaks) == 1


def test_sessions_are_recorded_with_their_source_kind_and_end(store):
    begin(store)
    store.add_sample(Sample(at(5), 5.0, V.GOOD, 90))
    store.end_session(at(10))
    (session,) = store.sessions(T0, T0 + timedelta(hours=1))
    assert (session.source, session.source_kind, session.profile) == (
        "0",
        "camera",
        "default",
    )
    assert session.started_at == T0 and session.ended_at == at(10)


def test_recording_before_a_session_is_a_programming_error(store):
    with pytest.raises(RuntimeError, match="begin_session"):
        store.add_sample(Sample(at(1), 1.0, V.GOOD, 90))


def test_the_store_is_a_recorder():
    """What the monitor writes through the Recorder protocol is what the store keeps."""
    store = HistoryStore.in_memory()
    recorder: Recorder = store
    recorder.begin_session(SessionInfo(T0, "a.mp4", "video", None))
    recorder.add_sample(Sample(at(2), 2.0, V.SLOUCH, 40, None, 1.5))
    recorder.add_episode(Episode(at(0), at(2), V.SLOUCH))
    recorder.add_nudge(Nudge(at(1), "posture", "Sit back."))
    recorder.add_break(Break(at(3), at(4)))
    recorder.flush()
    recorder.end_session(at(5))
    rows = store.rows(T0, at(60))
    assert [m.seconds for m in rows.minutes] == [{V.SLOUCH: 2.0}]
    assert (len(rows.episodes), len(rows.nudges), len(rows.breaks)) == (1, 1, 1)
    (session,) = store.sessions(T0, at(60))
    assert (session.source_kind, session.profile, session.ended_at) == ("video", None, at(5))


# -- concurrency and durability ----------------------------------------------------------------


def test_a_reader_queries_while_the_writer_is_inside_a_transaction():
    with begin(HistoryStore()) as writer:
        play(writer, [(V.GOOD, 120, 90)], 1.0)
        writer.flush()
        raw = sqlite3.connect(default_path(), isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("UPDATE minutes SET good_s = 0")  # uncommitted
        started = time.monotonic()
        with HistoryStore() as reader:
            rows = minutes_of(reader)
        assert time.monotonic() - started < 2  # did not wait for the writer
        assert rows[0].seconds == {V.GOOD: 60}  # the last committed state
        raw.execute("COMMIT")
        raw.close()
        with HistoryStore() as reader:
            assert minutes_of(reader)[0].seconds_in(V.GOOD) == 0


WRITER = """
import sys
from datetime import datetime, timedelta
from posture.records import Sample, SessionInfo
from posture.vocabulary import Verdict
from posture.store import HistoryStore

t0 = datetime(2026, 11, 24, 9, 0).astimezone()
store = HistoryStore()
store.begin_session(SessionInfo(t0, "0", "camera", None))
print("started", flush=True)
i = 0
while True:
    i += 1
    verdict = Verdict.GOOD if i % 240 < 200 else Verdict.SLOUCH
    store.add_sample(Sample(t0 + timedelta(seconds=i / 2), 0.5, verdict, 80, 0.5, 0.5))
    if i % 20 == 0:
        store.flush()
"""


@pytest.mark.parametrize("minutes_before_kill", [3, 40])
def test_a_hard_kill_mid_write_loses_at_most_the_current_minute(minutes_before_kill):
    """SIGKILL a writer in full flow: the file stays sound, every finished minute is whole."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sqlite3.connect(default_path(), timeout=5) as probe:
                count = probe.execute("SELECT COUNT(*) FROM minutes").fetchone()[0]
            if count > minutes_before_kill:
                break
            time.sleep(0.01)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    conn = sqlite3.connect(default_path())
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with HistoryStore() as store:
        rows = minutes_of(store)
    offsets = sorted(rows)
    assert offsets == list(range(len(offsets))) and len(offsets) > minutes_before_kill
    for offset in offsets[:-1]:
        assert rows[offset].present_s == 60, offset
    assert 0 < rows[offsets[-1]].present_s <= 60


# -- a full disk ------------------------------------------------------------------------------


def no_room_left(store: HistoryStore) -> Callable[[], None]:
    """Leaves the history no room to grow, as a full disk does, so that SQLite itself
    answers "database or disk is full" (the file may not grow past its size, and the
    room left in its pages is filled with rows dated 1970). Returns the way back."""
    conn = store._conn  # the edge: the store's own SQLite connection
    conn.execute(
        "INSERT INTO sessions (id, started_at, source, source_kind) "
        "VALUES (999999, 0, 'filler', 'filler')"
    )
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    fillers = (
        "INSERT INTO minutes (session_id, minute_start, present_s) VALUES (999999, ? * 60, 0)",
        "INSERT INTO episodes (session_id, start, end, verdict) VALUES (999999, ?, ?, 'slouch')",
        "INSERT INTO nudges (session_id, at, kind, message) VALUES (999999, ?, 'posture', 'x')",
        "INSERT INTO breaks (session_id, start, end) VALUES (999999, ?, ?)",
        "INSERT INTO sessions (started_at, source, source_kind) VALUES (?, 'filler', 'filler')",
    )
    for sql in fillers:
        for index in range(100_000):
            try:
                conn.execute(sql, (index,) * sql.count("?"))
            except sqlite3.OperationalError as error:
                assert "full" in str(error)
                break
    return lambda: conn.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_keeps_minutes_and_events_in_memory_warns_once_and_writes_them_later(
    caplog,
):
    problems: list[str | None] = []
    with HistoryStore(now=later) as store:
        store.on_write_problem = problems.append
        begin(store)
        for second in range(1, 31):
            store.add_sample(Sample(at(second), 1.0, V.GOOD, 90))
        store.flush()
        give_room_back = no_room_left(store)
        with caplog.at_level(logging.WARNING, logger="posture.store"):
            for second in range(31, 181):  # three minutes go by, none can be written
                verdict = V.SLOUCH if 60 < second <= 120 else V.GOOD
                store.add_sample(Sample(at(second), 1.0, verdict, 50, 0.3, 1.5))
                if second % 20 == 0:
                    store.flush()
            store.add_episode(Episode(at(60), at(120), V.SLOUCH))
            store.add_nudge(Nudge(at(90), "posture", "Sit back."))
        assert store.write_problem is not None and "disk is full" in store.write_problem
        assert problems == [store.write_problem]
        warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warned) == 1 and "keeps coaching" in warned[0], warned
        # No new minute reached the file (minute 0's row grew in place); reading works.
        assert sorted(minutes_of(store)) == [0]
        give_room_back()
        store.add_sample(Sample(at(181), 1.0, V.GOOD, 90))
        store.flush()
        assert problems == [problems[0], None] and store.write_problem is None
        rows = minutes_of(store)
        assert [rows[m].seconds for m in (0, 1, 2, 3)] == [
            {V.GOOD: 60},
            {V.SLOUCH: 60},
            {V.GOOD: 60},
            {V.GOOD: 1},
        ]
        window = (T0, at(600))
        assert store.episodes(*window) == [Episode(at(60), at(120), V.SLOUCH)]
        assert [n.at for n in store.nudges(*window)] == [at(90)]


def test_a_monitor_started_on_a_full_disk_keeps_coaching_and_keeps_its_minutes(
    session_profile,
):
    """The real monitor over the sample session, its history full from the start: the
    session runs to its end with its nudges, and every minute is written once there
    is room again."""
    from posture.monitor import Monitor, MonitorSettings, open_throttled
    from posture.nudges import NudgePolicy
    from posture.scoring import Scorer
    from tests.conftest import SESSION_VIDEO

    shown: list[object] = []
    store = HistoryStore(now=later)
    give_room_back = no_room_left(store)
    policy = NudgePolicy(sustained_bad_s=3, good_to_end_s=2, cooldown_s=8, away_after_s=3)
    monitor = Monitor(
        lambda: open_throttled(str(SESSION_VIDEO), 2.0),
        Scorer(session_profile),
        notify=shown.append,
        recorder=store,
        settings=MonitorSettings(speed=0, policy=policy, flush_every_s=5),
        source_name="video session.mp4",
    )
    summary = monitor.run()
    assert shown and summary.samples > 60  # it coached to the end
    assert store.write_problem is not None and "disk is full" in store.write_problem
    assert store.table_rows("sessions")[-1]["source"] == "filler"  # nothing written yet
    give_room_back()
    store.close()
    with HistoryStore() as reader:
        (session,) = [s for s in reader.table_rows("sessions") if s["source"] != "filler"]
        minutes = [m for m in reader.table_rows("minutes") if m["session_id"] == session["id"]]
        nudges = [n for n in reader.table_rows("nudges") if n["session_id"] == session["id"]]
    assert session["ended_at"] is not None and len(nudges) == len(summary.nudges)
    assert sum(m["present_s"] + m["no_person_s"] for m in minutes) == pytest.approx(
        sum(summary.seconds_by_verdict.values())
    )


# -- calibrations and the pain journal ---------------------------------------------------------


def test_pain_entries_are_validated_and_read_back_in_order(store):
    store.add_pain(at(600), 6, "upper-back", " dull, aching ", "after a long call")
    store.add_pain(at(60), 2, "neck")
    entries = store.pain_entries()
    assert [(e.level, e.where, e.feels) for e in entries] == [
        (2, "neck", ""),
        (6, "upper-back", "dull, aching"),
    ]
    assert store.pain_entries(T0, at(300))[0].level == 2


@pytest.mark.parametrize(
    ("level", "where", "message"),
    [
        (11, "upper-back", "pain level must be from 0 (no pain) to 10"),
        (3, "elbow", "pain location must be one of upper-back, neck, shoulders, lower-back"),
    ],
)
def test_bad_pain_entries_are_history_errors_with_the_fix(store, level, where, message):
    with pytest.raises(HistoryError, match=re.escape(message)):
        store.add_pain(T0, level, where)
    assert store.pain_entries() == []


def test_pain_in_the_future_is_refused():
    store = HistoryStore.in_memory()
    tomorrow = datetime.now().astimezone() + timedelta(days=1)
    with pytest.raises(HistoryError, match="is in the future"):
        store.add_pain(tomorrow, 3)


def test_calibrations_are_recorded(store):
    store.record_calibration(T0, "default", "side", 42)
    (item,) = store.calibrations(T0, at(1))
    assert (item.profile, item.view, item.frame_count) == ("default", "side", 42)


# -- data ownership ----------------------------------------------------------------------------


def fill(store: HistoryStore, start: datetime) -> None:
    begin(store, start)
    for second in range(1, 121):
        store.add_sample(Sample(start + timedelta(seconds=second), 1.0, V.GOOD, 90))
    store.add_episode(Episode(start, start + timedelta(seconds=60), V.SLOUCH))
    store.add_nudge(Nudge(start + timedelta(seconds=30), "posture", "Sit back."))
    store.add_break(Break(start + timedelta(seconds=60), start + timedelta(seconds=200)))
    store.end_session(start + timedelta(seconds=120))
    store.add_pain(start + timedelta(seconds=10), 3)
    store.record_calibration(start, "default", "frontal", 30)


def test_export_json_holds_every_table_with_local_times(_isolated_home):
    with HistoryStore(now=later) as store:
        fill(store, T0)
        counts = store.export_all(_isolated_home / "out.json", "json")
    document = json.loads((_isolated_home / "out.json").read_text())
    assert (
        set(document["tables"])
        == set(counts)
        == {
            "sessions",
            "minutes",
            "episodes",
            "nudges",
            "breaks",
            "calibrations",
            "pain",
        }
    )
    assert counts["minutes"] == 2 and counts["pain"] == 1
    minute = document["tables"]["minutes"][0]
    assert minute["minute_start"] == T0.isoformat(timespec="seconds") and minute["good_s"] == 60
    assert document["schema_version"] == MIGRATIONS[-1].version
    assert (_isolated_home / "out.json").stat().st_mode & 0o777 == 0o600


def test_export_csv_writes_one_file_per_table_and_never_overwrites(_isolated_home):
    target = _isolated_home / "export"
    with HistoryStore(now=later) as store:
        fill(store, T0)
        store.export_all(target, "csv")
        names = sorted(p.name for p in target.iterdir())
        assert names == sorted(
            f"{t}.csv"
            for t in ("sessions", "minutes", "episodes", "nudges", "breaks", "calibrations", "pain")
        )
        assert (target / "pain.csv").read_text().splitlines()[0] == (
            "id,at,level,location,feels,note"
        )
        with pytest.raises(HistoryError, match="already exists"):
            store.export_all(target, "csv")
        (_isolated_home / "taken.json").write_text("mine")
        with pytest.raises(HistoryError, match="already exists"):
            store.export_all(_isolated_home / "taken.json", "json")
    assert (_isolated_home / "taken.json").read_text() == "mine"


def test_exports_write_decimals_to_three_places_not_fifteen_digits(_isolated_home):
    with HistoryStore(now=later) as store:
        begin(store, T0)
        for second in (1, 2, 3):  # a third of a second each: 1/3 and 2/3 recur
            store.add_sample(Sample(at(second), 1 / 3, V.SLOUCH, 40, 0.1, 1.0 / 7.0))
        store.end_session(at(10))
        store.export_all(_isolated_home / "out.json", "json")
        store.export_all(_isolated_home / "csv", "csv")
    (minute,) = json.loads((_isolated_home / "out.json").read_text())["tables"]["minutes"]
    assert (minute["slouch_s"], minute["mean_trunk_excess"]) == (1.0, 0.143)
    assert minute["credit_s"] == round(minute["credit_s"], 3) and minute["mean_neck_excess"] == 0.1
    header, row = (_isolated_home / "csv" / "minutes.csv").read_text().splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["slouch_s"], cells["mean_trunk_excess"]) == ("1.0", "0.143")
    assert all(len(cell.partition(".")[2]) <= 3 for cell in cells.values() if "T" not in cell)


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
)
def test_exported_times_read_as_python_writes_them_across_offset_changes(monkeypatch, zone):
    """The export's local times, written by SQLite, match datetime.isoformat exactly:
    around daylight-saving changes (Lord Howe moves by half an hour), in half- and
    quarter-hour zones, with fractions of seconds."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        changes = [1711846800, 1729990800, 1699164000, 1712419200]  # 2023-2024 changes
        stamps = [c + d for c in changes for d in range(-5400, 5400, 299)] + [1700000000.7]
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (at REAL)")
        conn.executemany("INSERT INTO t VALUES (?)", [(s,) for s in stamps])
        sql = _local_iso_sql("at", _offset_pieces(min(stamps), max(stamps)))
        shown = [row[0] for row in conn.execute(f"SELECT {sql} FROM t ORDER BY rowid")]
        assert shown == [
            datetime.fromtimestamp(s).astimezone().isoformat(timespec="seconds") for s in stamps
        ]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_delete_before_a_day_keeps_the_later_days(store):
    fill(store, T0 - timedelta(days=3))
    fill(store, T0)
    counts = store.delete(before=DAY - timedelta(days=1))
    assert counts == {
        "minutes": 2,
        "episodes": 1,
        "nudges": 1,
        "breaks": 1,
        "calibrations": 1,
        "pain": 1,
        "sessions": 1,
    }
    assert sorted(minutes_of(store)) == [0, 1]
    assert len(store.sessions(T0 - timedelta(days=5), T0 + timedelta(days=1))) == 1


def test_delete_everything_and_keep_recording(store):
    fill(store, T0)
    begin(store, T0 + timedelta(hours=1))
    store.add_sample(Sample(at(3601), 1.0, V.GOOD, 90))
    store.delete()
    assert store.pain_entries() == [] and minutes_of(store) == {}
    # The monitor's session goes on writing after its history was deleted.
    store.add_sample(Sample(at(3700), 1.0, V.SLOUCH, 50))
    store.add_nudge(Nudge(at(3700), "posture", "Sit back."))
    store.flush()
    assert sorted(minutes_of(store)) == [60, 61]
    assert date.fromisoformat(store.table_rows("sessions")[0]["started_at"][:10]) == DAY
