"""The history database: SQLite in the data directory, written by the monitor, read by reports.

Why it is built this way:

- One file, `history.sqlite3` in `data_dir()`, readable by its owner only
  (0600; SQLite gives its -wal and -shm files the same mode): posture history
  is health data.
- WAL journal, so `posture report` reads while `posture monitor` writes;
  `synchronous=NORMAL` keeps every commit through a killed process (only a
  power cut can lose the last ones) at a fraction of the cost of FULL.
- Numbered migrations, recorded in `schema_migrations`, applied in order in one
  transaction; a database from a newer posture is refused, never downgraded.
- Times are stored as Unix seconds, so a local day is a plain range whatever
  the time zone; they come back as local, timezone-aware datetimes.
- Samples are never stored. `add_sample` adds into the current wall-clock
  minute in memory (`MinuteTallies`); a finished minute is written in one short
  transaction, and `flush()` writes the current partial minute with an upsert
  that replaces the row by the minute's running totals, so flushing and then
  continuing never counts a second twice. A hard kill loses at most what came
  after the last flush: less than a minute.
- A file that is not a posture history, or a damaged one, is an error that
  names the file and the way out; it is never replaced or repaired in place.
  Nothing in a file is changed before it is found to be a posture history.
- A write that fails while monitoring (a full disk) never stops the coaching: the
  store warns once (`write_problem`, `on_write_problem`), keeps what it could not
  write in memory and writes it at the next flush that succeeds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from posture.errors import PostureError
from posture.history import (
    HistoryRows,
    MinuteRow,
    MinuteTallies,
    Totals,
    day_bounds,
)
from posture.pain import PainEntry
from posture.paths import (
    PathError,
    data_dir,
    private_folder,
    private_text_file,
    touch_private,
    writable_problem,
)
from posture.records import Break, Episode, Nudge, Sample, SessionInfo
from posture.vocabulary import Verdict

log = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite3"
# How long a writer or a reader waits for the other's lock before giving up. Every
# transaction here is a few rows, so 5 s means something is wrong.
BUSY_TIMEOUT_S = 5.0
IN_MEMORY = ":memory:"
# What the monitor keeps in memory while the history cannot be written (a full disk):
# minutes and events, a few hundred bytes each; this is more than a working day.
MAX_KEPT_WRITES = 5000
# The way out when the data folder cannot be used: another one.
_ELSEWHERE = "or set POSTURE_HOME to another folder"


class HistoryError(PostureError):
    """The history database cannot be opened, read or written, or a bad journal entry."""


def default_path() -> Path:
    """The history file in the data directory."""
    return data_dir() / HISTORY_FILE


# -- schema ------------------------------------------------------------------------------------

# Per-verdict seconds live in one column each, named after the verdict. A new verdict
# needs a new migration that adds its column (tests/test_store.py checks that every
# verdict has one).
VERDICT_COLUMNS = {verdict: verdict.value.replace("-", "_") + "_s" for verdict in Verdict}


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema. Its SQL is frozen as written: once released, a
    migration never changes (what it means must not depend on today's code), and a
    change of schema is a new migration."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "sessions, per-minute aggregates, episodes, nudges, breaks, calibrations, pain journal",
        (
            """CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    source TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    profile TEXT
)""",
            """CREATE TABLE minutes (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    minute_start INTEGER NOT NULL CHECK (minute_start % 60 = 0),
    present_s REAL NOT NULL CHECK (present_s >= 0),
    good_s REAL NOT NULL DEFAULT 0,
    slouch_s REAL NOT NULL DEFAULT 0,
    forward_head_s REAL NOT NULL DEFAULT 0,
    lateral_lean_s REAL NOT NULL DEFAULT 0,
    too_close_s REAL NOT NULL DEFAULT 0,
    reclined_s REAL NOT NULL DEFAULT 0,
    no_person_s REAL NOT NULL DEFAULT 0,
    person_no_pose_s REAL NOT NULL DEFAULT 0,
    mean_score REAL,
    scored_s REAL NOT NULL DEFAULT 0,
    mean_neck_excess REAL,
    neck_s REAL NOT NULL DEFAULT 0,
    mean_trunk_excess REAL,
    trunk_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, minute_start)
)""",
            "CREATE INDEX minutes_by_time ON minutes (minute_start)",
            """CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    start REAL NOT NULL,
    end REAL NOT NULL CHECK (end >= start),
    verdict TEXT NOT NULL
)""",
            "CREATE INDEX episodes_by_time ON episodes (start)",
            """CREATE TABLE nudges (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
)""",
            "CREATE INDEX nudges_by_time ON nudges (at)",
            """CREATE TABLE breaks (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    start REAL NOT NULL,
    end REAL NOT NULL CHECK (end >= start)
)""",
            "CREATE INDEX breaks_by_time ON breaks (start)",
            """CREATE TABLE calibrations (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    profile TEXT NOT NULL,
    view TEXT NOT NULL,
    frame_count INTEGER NOT NULL
)""",
            """CREATE TABLE pain (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 10),
    location TEXT NOT NULL,
    feels TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT ''
)""",
            "CREATE INDEX pain_by_time ON pain (at)",
        ),
    ),
    Migration(
        2,
        "minutes: drop mean_score and scored_s, which nothing read",
        (
            # Rebuilt rather than ALTER TABLE DROP COLUMN, which needs SQLite 3.35
            # (2021): older distributions still ship Pythons linked to 3.31-3.34.
            """CREATE TABLE minutes_v2 (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    minute_start INTEGER NOT NULL CHECK (minute_start % 60 = 0),
    present_s REAL NOT NULL CHECK (present_s >= 0),
    good_s REAL NOT NULL DEFAULT 0,
    slouch_s REAL NOT NULL DEFAULT 0,
    forward_head_s REAL NOT NULL DEFAULT 0,
    lateral_lean_s REAL NOT NULL DEFAULT 0,
    too_close_s REAL NOT NULL DEFAULT 0,
    reclined_s REAL NOT NULL DEFAULT 0,
    no_person_s REAL NOT NULL DEFAULT 0,
    person_no_pose_s REAL NOT NULL DEFAULT 0,
    mean_neck_excess REAL,
    neck_s REAL NOT NULL DEFAULT 0,
    mean_trunk_excess REAL,
    trunk_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, minute_start)
)""",
            """INSERT INTO minutes_v2 SELECT session_id, minute_start, present_s, good_s,
    slouch_s, forward_head_s, lateral_lean_s, too_close_s, reclined_s, no_person_s,
    person_no_pose_s, mean_neck_excess, neck_s, mean_trunk_excess, trunk_s FROM minutes""",
            "DROP TABLE minutes",
            "ALTER TABLE minutes_v2 RENAME TO minutes",
            "CREATE INDEX minutes_by_time ON minutes (minute_start)",
        ),
    ),
    Migration(
        3,
        "minutes: credit_s, the seconds weighted by the posture of each moment",
        (
            "ALTER TABLE minutes ADD COLUMN credit_s REAL NOT NULL DEFAULT 0",
            # Rows written before: the weights as they were computed then, from the
            # minute's mean deviations (0.5 per bad second at the threshold, falling
            # to 0 one tolerance further; 0.5 when not measured).
            """UPDATE minutes SET credit_s = good_s
    + (slouch_s + reclined_s)
        * 0.5 * MIN(1.0, MAX(0.0, 2.0 - MAX(COALESCE(mean_trunk_excess, 1.0), 1.0)))
    + forward_head_s
        * 0.5 * MIN(1.0, MAX(0.0, 2.0 - MAX(COALESCE(mean_neck_excess, 1.0), 1.0)))
    + (too_close_s + lateral_lean_s) * 0.5""",
        ),
    ),
    Migration(
        4,
        "sessions: source_kind from what the source was, not the first word of --source",
        (
            # Before, the kind was the first word of what --source said: "0" for a
            # camera, a file's whole path. The extensions are those posture opened then.
            """UPDATE sessions SET source_kind = CASE
    WHEN trim(source) <> '' AND trim(source) NOT GLOB '*[^0-9]*' THEN 'camera'
    WHEN lower(source) GLOB '*.mp4' OR lower(source) GLOB '*.avi'
        OR lower(source) GLOB '*.mov' OR lower(source) GLOB '*.mkv'
        OR lower(source) GLOB '*.webm' OR lower(source) GLOB '*.m4v'
        OR lower(source) GLOB '*.mpg' OR lower(source) GLOB '*.mpeg'
        OR lower(source) GLOB '*.wmv' OR lower(source) GLOB '*.gif' THEN 'video'
    WHEN lower(source) GLOB '*.jpg' OR lower(source) GLOB '*.jpeg'
        OR lower(source) GLOB '*.png' OR lower(source) GLOB '*.bmp'
        OR lower(source) GLOB '*.webp' OR lower(source) GLOB '*.tif'
        OR lower(source) GLOB '*.tiff' THEN 'image'
    ELSE 'unknown' END
WHERE source_kind NOT IN ('camera', 'video', 'image', 'folder')""",
        ),
    ),
)

# Places after the point of the decimal numbers an export writes.
EXPORT_DECIMALS = 3

# Every table a user owns, in export order, with the columns that hold times.
TABLES: dict[str, tuple[str, ...]] = {
    "sessions": ("started_at", "ended_at"),
    "minutes": ("minute_start",),
    "episodes": ("start", "end"),
    "nudges": ("at",),
    "breaks": ("start", "end"),
    "calibrations": ("at",),
    "pain": ("at",),
}
# The column a row's age is judged by, for `delete(before=...)`.
_AGE_COLUMN = {
    "minutes": "minute_start",
    "episodes": "start",
    "nudges": "at",
    "breaks": "start",
    "calibrations": "at",
    "pain": "at",
}


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied; 0 for a blank database."""
    known = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if known is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, in order, in one transaction.

    Returns the version reached. The version is read again under the write
    lock, so two processes opening a new database at once migrate it once.
    `conn` must be in autocommit mode (isolation_level=None).
    """
    known = migrations[-1].version if migrations else 0
    if schema_version(conn) == known:
        return known
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = schema_version(conn)
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, _now().isoformat(timespec="seconds")),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return known


# -- conversions -------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now().astimezone()


def _stamp(moment: datetime) -> float:
    return moment.timestamp()


def _local(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp).astimezone()


def _utc_offset(stamp: int) -> int:
    return time.localtime(stamp).tm_gmtoff


# Time zones change their offset at most once in this long (twice a year in practice).
_OFFSET_STEP_S = 6 * 3600


def _offset_pieces(low: float, high: float) -> list[tuple[int, int]]:
    """(from this Unix second on, UTC offset in seconds) from `low` to `high`, one piece
    per offset: the clock is read every six hours and each change found to the second
    (some zones move by half an hour, at any minute)."""
    start = math.floor(low)
    pieces = [(start, _utc_offset(start))]
    while start < high:
        end = min(start + _OFFSET_STEP_S, math.ceil(high))
        if _utc_offset(end) != pieces[-1][1]:
            before, after = start, end  # the offset changes in (before, after]
            while after - before > 1:
                middle = (before + after) // 2
                if _utc_offset(middle) == pieces[-1][1]:
                    before = middle
                else:
                    after = middle
            pieces.append((after, _utc_offset(after)))
        start = end
    return pieces


def _local_iso_sql(column: str, pieces: list[tuple[int, int]]) -> str:
    """SQL for `column` (Unix seconds) as local ISO 8601 with its UTC offset, as
    `datetime.isoformat(timespec="seconds")` writes it ('2026-11-24T09:00:00+01:00'),
    computed by SQLite: the offsets of the stamps present are known (`pieces`), so no
    row calls back into Python."""
    if not pieces:
        return "NULL"

    def by_piece(values: list[str]) -> str:
        if len(values) == 1:
            return values[0]
        branches = " ".join(
            f"WHEN {column} < {start} THEN {value}"
            for (start, _), value in zip(pieces[1:], values, strict=False)
        )
        return f"(CASE {branches} ELSE {values[-1]} END)"

    def suffix(offset: int) -> str:
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"'{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}'"

    shift = by_piece([str(offset) for _, offset in pieces])
    zone = by_piece([suffix(offset) for _, offset in pieces])
    return (
        f"(strftime('%Y-%m-%dT%H:%M:%S', CAST({column} AS INTEGER) + {shift}, 'unixepoch')"
        f" || {zone})"
    )


def _minute_params(session_id: int, row: MinuteRow) -> dict[str, Any]:
    params: dict[str, Any] = {
        "session_id": session_id,
        "minute_start": round(row.start.timestamp()),
        "present_s": row.present_s,
        "credit_s": row.credit,
        "mean_neck_excess": row.mean_neck_excess,
        "neck_s": row.neck_s,
        "mean_trunk_excess": row.mean_trunk_excess,
        "trunk_s": row.trunk_s,
    }
    for verdict, column in VERDICT_COLUMNS.items():
        params[column] = row.seconds_in(verdict)
    return params


def _minute_from(row: sqlite3.Row) -> MinuteRow:
    return MinuteRow(
        start=_local(row["minute_start"]),
        seconds={v: row[c] for v, c in VERDICT_COLUMNS.items() if row[c]},
        credit_s=row["credit_s"],
        mean_neck_excess=row["mean_neck_excess"],
        neck_s=row["neck_s"],
        mean_trunk_excess=row["mean_trunk_excess"],
        trunk_s=row["trunk_s"],
    )


_MINUTE_COLUMNS = list(_minute_params(0, MinuteRow(datetime.fromtimestamp(0).astimezone(), {})))
_UPSERT_MINUTE = (
    f"INSERT INTO minutes ({', '.join(_MINUTE_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _MINUTE_COLUMNS)}) "
    "ON CONFLICT (session_id, minute_start) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _MINUTE_COLUMNS[2:])
)


@dataclass(frozen=True)
class StoredSession:
    """One run of the monitor, as stored."""

    id: int
    started_at: datetime
    ended_at: datetime | None  # None: still running, or the monitor was killed
    source: str
    source_kind: str  # camera, video, image, folder...
    profile: str | None


@dataclass(frozen=True)
class Calibration:
    """A calibration that was saved, as stored."""

    at: datetime
    profile: str
    view: str
    frame_count: int


# -- errors ------------------------------------------------------------------------------------


def _history_error(error: sqlite3.Error, path: Path | str) -> HistoryError:
    """One line naming the file and the way out, from whatever SQLite said."""
    text = " ".join(str(error).split())
    aside = f"move it aside (e.g. to {Path(path).name}.bad) to start a new history"
    if "not a database" in text or "encrypted" in text:
        return HistoryError(
            f"{path} is not a posture history database ({text}); posture leaves it "
            f"untouched: {aside}, or set POSTURE_HOME to another folder"
        )
    if "malformed" in text or "corrupt" in text:
        return HistoryError(
            f"history database {path} is damaged ({text}); posture leaves it untouched: "
            f"{aside} (`sqlite3 {path} .recover` may rescue its rows)"
        )
    if "full" in text:
        return HistoryError(
            f"cannot write history database {path}: the disk is full; free some space and try again"
        )
    if "locked" in text or "busy" in text:
        return HistoryError(
            f"history database {path} stayed locked by another posture process for "
            f"{BUSY_TIMEOUT_S:g} s: try again"
        )
    if "readonly" in text or "unable to open" in text:
        problem = None if str(path) == IN_MEMORY else writable_problem(Path(path))
        if problem is not None:
            return HistoryError(f"cannot write the history: {problem} ({_ELSEWHERE})")
        return HistoryError(
            f"cannot open or write history database {path} ({text}): give your user read and "
            f"write access to it and its folder (chmod 600 {path})"
        )
    return HistoryError(f"history database {path}: {text}")


def _prepare_file(path: Path) -> None:
    """Create the folder (0700) and the file (0600) if needed; refuse what cannot work."""
    if path.is_dir():
        raise HistoryError(
            f"history database {path} is a folder, not a file: move it away, "
            "or set POSTURE_HOME to another folder"
        )
    try:
        private_folder(path.parent)
        touch_private(path)
    except PathError as error:
        raise HistoryError(f"cannot create the history: {error} ({_ELSEWHERE})") from None
    problem = writable_problem(path)
    if problem is not None:
        raise HistoryError(f"cannot write the history: {problem} ({_ELSEWHERE})")


def _make_private(path: Path) -> None:
    """An older or copied history readable by others becomes the user's only (after it
    was found to be a posture history: another program's file is never touched)."""
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        path.chmod(0o600)


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, uri=uri
    )
    conn.row_factory = sqlite3.Row
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """The file opened so that nothing can be written to it, even on a read-only disk.

    A WAL database needs its shared-memory file to be read; where that cannot be
    created (a read-only file system or folder), nobody can be writing the file
    either, and SQLite is told it will not change (`immutable`).
    """
    if not path.is_file():
        raise HistoryError(f"no history database at {path}")
    uri = path.absolute().as_uri() + "?mode=ro"
    conn = _connect(uri, uri=True)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError as error:
        conn.close()
        if "unable to open" not in str(error) or writable_problem(path) is None:
            raise
        conn = _connect(uri + "&immutable=1", uri=True)
    return conn


def _migrated_copy(conn: sqlite3.Connection) -> sqlite3.Connection:
    """A history from an older posture, read without upgrading the file: a copy in
    memory, migrated there (the next `posture monitor` upgrades the file itself)."""
    copy = _connect(IN_MEMORY)
    conn.backup(copy)
    conn.close()
    copy.execute("PRAGMA foreign_keys = ON")
    migrate(copy)
    return copy


# -- the store ---------------------------------------------------------------------------------


class HistoryStore:
    """The posture history in SQLite; implements `posture.records.Recorder`.

    Open one per process; it is safe to share between threads. Use as a
    context manager, or call `close()`: both flush the current minute.
    `HistoryStore.in_memory()` is the same store without a file, for tests.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        now: Callable[[], datetime] = _now,
        read_only: bool = False,
    ) -> None:
        self.path: Path | str = default_path() if path is None else path
        self.read_only = read_only
        self._now = now
        self._lock = threading.RLock()
        self._session_id: int | None = None
        self._session_row: dict[str, Any] = {}
        self._minutes = MinuteTallies(self._write_minute, self._stored_minute)
        # Writes not in the file yet (it could not be written): events in order, and
        # each minute's latest totals, by (session id, minute start).
        self._kept: list[tuple[dict[str, Any], str, Sequence[Any]]] = []
        self._kept_minutes: dict[tuple[int, int], tuple[dict[str, Any], MinuteRow]] = {}
        self._lost = 0
        self.write_problem: str | None = None
        """Why the history could not be written lately (kept in memory), or None."""
        self.on_write_problem: Callable[[str | None], None] | None = None
        """Called with the problem when writes start failing, and with None when they
        succeed again: the monitor's way to show it."""
        self._closed = False
        self._conn = self._open()

    @classmethod
    def in_memory(cls, now: Callable[[], datetime] = _now) -> HistoryStore:
        """The same store without a file: for tests, and for reading a history not made yet."""
        return cls(IN_MEMORY, now=now)

    def _open(self) -> sqlite3.Connection:
        """Connects, validates without changing anything, and only then prepares the file
        (WAL, migrations, private mode): a file that is refused is left exactly as it was."""
        path = None if self.path == IN_MEMORY else Path(self.path)
        try:
            if path is None:
                conn = _connect(IN_MEMORY)
            elif self.read_only:
                conn = _connect_read_only(path)
            else:
                _prepare_file(path)
                conn = _connect(str(path))
        except sqlite3.Error as error:
            raise _history_error(error, self.path) from error
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            version = self._validate(conn)
            if self.read_only:
                if version < MIGRATIONS[-1].version:
                    conn = _migrated_copy(conn)
                return conn
            if path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                _make_private(path)
            migrate(conn)
        except sqlite3.Error as error:
            conn.close()
            raise _history_error(error, self.path) from error
        except HistoryError:
            conn.close()
            raise
        return conn

    def _validate(self, conn: sqlite3.Connection) -> int:
        """Refuses a damaged file, another program's database or a newer posture's history,
        by reading only. Returns the schema version.

        Only a writer checks every page first (quick_check: 90 ms for a year of
        history): a reader that meets a damaged page says so when it does.
        """
        problem = "ok" if self.read_only else conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            detail = " ".join(str(problem).replace("*** in database main ***", "").split())
            raise _history_error(sqlite3.DatabaseError(f"malformed: {detail}"), self.path)
        version, known = schema_version(conn), MIGRATIONS[-1].version
        if version > known:
            raise HistoryError(
                f"history database {self.path} was written by a newer posture (schema "
                f"{version}; this version knows up to {known}): upgrade posture to use it"
            )
        others = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        if version == 0 and others:
            raise HistoryError(
                f"{self.path} is an SQLite database but not a posture history (it has a "
                f"table {others[0][0]!r}); posture leaves it untouched: set POSTURE_HOME "
                "to another folder or move the file away"
            )
        return version

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise _history_error(error, self.path) from error

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; IMMEDIATE so a busy database waits up front."""
        if self.read_only:
            raise HistoryError(f"history database {self.path} was opened for reading only")
        with self._lock, self._guard():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._guard():
            return self._conn.execute(sql, params).fetchall()

    def _tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: a third of the cost of `sqlite3.Row` for many rows."""
        with self._lock, self._guard():
            cursor = self._conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()

    def close(self) -> None:
        """Writes the current minute and closes the file; closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush()
                if self._kept or self._kept_minutes:
                    self._lost += len(self._kept) + len(self._kept_minutes)
                if self._lost:
                    log.warning(
                        "%d minutes and events could not be written to %s (%s) and are lost",
                        self._lost,
                        self.path,
                        self.write_problem or "no room",
                    )
            finally:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the history (of the migrated copy, for an older one read-only)."""
        with self._lock, self._guard():
            return schema_version(self._conn)

    # -- the Recorder protocol -------------------------------------------------------------

    def begin_session(self, info: SessionInfo) -> None:
        """Starts recording a monitor run (ending the one before, if any)."""
        if self.read_only:
            raise HistoryError(f"history database {self.path} was opened for reading only")
        with self._lock:
            if self._session_id is not None:
                self.end_session(self._now())
            row = {
                "started_at": _stamp(info.started_at),
                "source": info.source,
                "source_kind": info.source_kind,
                "profile": info.profile,
            }
            try:
                with self._lock:
                    cursor = self._conn.execute(
                        "INSERT INTO sessions (started_at, source, source_kind, profile) "
                        "VALUES (:started_at, :source, :source_kind, :profile)",
                        row,
                    )
                session_id = cursor.lastrowid
            except sqlite3.OperationalError as error:
                # A full disk: the session row is written with the first rows that
                # can be, under the id it would have had.
                session_id = self._query("SELECT COALESCE(MAX(id), 0) + 1 FROM sessions")[0][0]
                self._keeping(error)
            self._session_id = session_id
            self._session_row = {"id": session_id, **row}

    def _session(self) -> int:
        if self._session_id is None:
            raise RuntimeError("begin_session() must come before anything is recorded")
        return self._session_id

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        """One change to the current session, written at once if the file allows."""
        with self._lock:
            self._kept.append((self._session_row, sql, params))
            self._write_kept()

    def _write_kept(self) -> None:
        """Writes everything not written yet in one transaction, or keeps it.

        Each session's row is put back first, if `posture data delete` removed it
        while the monitor was running, so the monitor never fails over it. A write
        the file refuses (full disk, I/O error, still locked after the busy timeout)
        is kept in memory for the next try: the monitor goes on coaching.
        """
        if not (self._kept or self._kept_minutes):
            return
        sessions = {row["id"]: row for row, _, _ in self._kept}
        sessions.update({row["id"]: row for row, _ in self._kept_minutes.values()})
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for row in sessions.values():
                    conn.execute(
                        "INSERT OR IGNORE INTO sessions (id, started_at, source, source_kind, "
                        "profile) VALUES (:id, :started_at, :source, :source_kind, :profile)",
                        row,
                    )
                for _, sql, params in self._kept:
                    conn.execute(sql, params)
                for (session_id, _), (_, minute) in self._kept_minutes.items():
                    conn.execute(_UPSERT_MINUTE, _minute_params(session_id, minute))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as error:
            self._keeping(error)
            return
        except sqlite3.Error as error:  # a bad row: a bug, not the disk's fault
            self._kept.clear()
            self._kept_minutes.clear()
            raise _history_error(error, self.path) from error
        written = len(self._kept) + len(self._kept_minutes)
        self._kept.clear()
        self._kept_minutes.clear()
        if self.write_problem is not None:
            log.warning("history written again: %d kept minutes and events saved", written)
            self.write_problem = None
            if self.on_write_problem is not None:
                self.on_write_problem(None)

    def _keeping(self, error: sqlite3.Error) -> None:
        """A write failed: say so once, keep what waits within bounds."""
        while len(self._kept) + len(self._kept_minutes) > MAX_KEPT_WRITES:
            if self._kept_minutes:
                del self._kept_minutes[next(iter(self._kept_minutes))]
            else:
                del self._kept[0]
            self._lost += 1
        if self.write_problem is not None:
            return
        self.write_problem = str(_history_error(error, self.path))
        log.warning(
            "%s; posture keeps coaching, holds this session's minutes in memory and "
            "writes them as soon as it can",
            self.write_problem,
        )
        if self.on_write_problem is not None:
            self.on_write_problem(self.write_problem)

    def add_sample(self, sample: Sample) -> None:
        """Adds the sample's seconds to the minute(s) it covers; writes finished minutes."""
        with self._lock:
            self._session()
            self._minutes.add(sample)

    def _stored_minute(self, minute: datetime) -> MinuteRow | None:
        """Normally nothing is stored for a new minute; if the wall clock stepped back,
        the stored (or kept) row is the base, so the upsert never loses seconds."""
        kept = self._kept_minutes.pop((self._session(), round(minute.timestamp())), None)
        if kept is not None:
            return kept[1]
        stored = self._query(
            "SELECT * FROM minutes WHERE session_id = ? AND minute_start = ?",
            (self._session(), round(minute.timestamp())),
        )
        return _minute_from(stored[0]) if stored else None

    def _write_minute(self, row: MinuteRow) -> None:
        with self._lock:
            key = (self._session(), round(row.start.timestamp()))
            self._kept_minutes[key] = (self._session_row, row)
            self._write_kept()

    def flush(self) -> None:
        """Writes the current minute so far (an upsert: flushing again replaces it), and
        whatever an earlier write could not."""
        with self._lock:
            current = self._minutes.current()
            if current is not None and self._session_id is not None:
                self._write_minute(current)
            else:
                self._write_kept()

    def add_episode(self, episode: Episode) -> None:
        """Records a stretch of bad posture of the current session."""
        self._write(
            "INSERT INTO episodes (session_id, start, end, verdict) VALUES (?, ?, ?, ?)",
            (self._session(), _stamp(episode.start), _stamp(episode.end), episode.verdict.value),
        )

    def add_nudge(self, nudge: Nudge) -> None:
        """Records a reminder that was shown in the current session."""
        self._write(
            "INSERT INTO nudges (session_id, at, kind, message) VALUES (?, ?, ?, ?)",
            (self._session(), _stamp(nudge.at), nudge.kind, nudge.message),
        )

    def add_break(self, interval: Break) -> None:
        """Records a movement break taken in the current session."""
        self._write(
            "INSERT INTO breaks (session_id, start, end) VALUES (?, ?, ?)",
            (self._session(), _stamp(interval.start), _stamp(interval.end)),
        )

    def end_session(self, ended_at: datetime) -> None:
        """Writes the current minute and the session's end; nothing recorded after."""
        with self._lock:
            if self._session_id is None:
                return
            self.flush()
            self._write(
                "UPDATE sessions SET ended_at = ? WHERE id = ?",
                (_stamp(ended_at), self._session_id),
            )
            self._session_id = None
            self._minutes.open = None

    # -- calibrations and the pain journal -------------------------------------------------

    def record_calibration(self, at: datetime, profile: str, view: str, frame_count: int) -> None:
        """Records that a profile was calibrated (a one-off write: failing, a `HistoryError`)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO calibrations (at, profile, view, frame_count) VALUES (?, ?, ?, ?)",
                (_stamp(at), profile, view, frame_count),
            )

    def add_pain(
        self, at: datetime, level: int, where: str = "upper-back", feels: str = "", note: str = ""
    ) -> PainEntry:
        """Writes a pain journal entry; a bad one is a `HistoryError` saying what to change."""
        try:
            entry = PainEntry(at, level, where, feels.strip(), note.strip())
        except ValueError as error:
            raise HistoryError(str(error)) from error
        if at > self._now() + timedelta(minutes=1):
            raise HistoryError(
                f"pain entry time {at.isoformat(timespec='minutes')} is in the future: "
                "write pain down when it happens"
            )
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO pain (at, level, location, feels, note) VALUES (?, ?, ?, ?, ?)",
                (_stamp(entry.at), entry.level, entry.where, entry.feels, entry.note),
            )
        return entry

    # -- reading ---------------------------------------------------------------------------

    def _between(self, table: str, column: str, start: datetime, end: datetime) -> list[Any]:
        return self._query(
            f"SELECT * FROM {table} WHERE {column} >= ? AND {column} < ? ORDER BY {column}",
            (_stamp(start), _stamp(end)),
        )

    def _parsed(self, build: Callable[[], list[Any]]) -> list[Any]:
        try:
            return build()
        except (ValueError, KeyError) as error:
            raise HistoryError(
                f"history database {self.path} holds a value this posture cannot read "
                f"({error}); export it with `posture data export` and check the rows"
            ) from error

    def minutes(self, start: datetime, end: datetime) -> list[MinuteRow]:
        """The stored minutes that start in [start, end), one row per session and minute."""
        rows = self._between("minutes", "minute_start", start, end)
        return self._parsed(lambda: [_minute_from(r) for r in rows])

    def episodes(self, start: datetime, end: datetime) -> list[Episode]:
        """The episodes that start in [start, end), in time order."""
        rows = self._between("episodes", "start", start, end)
        return self._parsed(
            lambda: [
                Episode(_local(r["start"]), _local(r["end"]), Verdict(r["verdict"])) for r in rows
            ]
        )

    def nudges(self, start: datetime, end: datetime) -> list[Nudge]:
        """The nudges shown in [start, end), in time order."""
        rows = self._between("nudges", "at", start, end)
        return self._parsed(lambda: [Nudge(_local(r["at"]), r["kind"], r["message"]) for r in rows])

    def breaks(self, start: datetime, end: datetime) -> list[Break]:
        """The breaks that start in [start, end), in time order."""
        rows = self._between("breaks", "start", start, end)
        return self._parsed(lambda: [Break(_local(r["start"]), _local(r["end"])) for r in rows])

    def pain_entries(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[PainEntry]:
        """The pain journal entries in [start, end) (default: all of them), oldest first."""
        low = start or datetime.fromtimestamp(0).astimezone()
        high = end or datetime(9999, 1, 1).astimezone()
        rows = self._between("pain", "at", low, high)
        return self._parsed(
            lambda: [
                PainEntry(_local(r["at"]), r["level"], r["location"], r["feels"], r["note"])
                for r in rows
            ]
        )

    def sessions(self, start: datetime, end: datetime) -> list[StoredSession]:
        """The monitor runs that started in [start, end)."""
        rows = self._between("sessions", "started_at", start, end)
        return [
            StoredSession(
                r["id"],
                _local(r["started_at"]),
                None if r["ended_at"] is None else _local(r["ended_at"]),
                r["source"],
                r["source_kind"],
                r["profile"],
            )
            for r in rows
        ]

    def calibrations(self, start: datetime, end: datetime) -> list[Calibration]:
        """The calibrations recorded in [start, end)."""
        rows = self._between("calibrations", "at", start, end)
        return [
            Calibration(_local(r["at"]), r["profile"], r["view"], r["frame_count"]) for r in rows
        ]

    def rows(self, start: datetime, end: datetime) -> HistoryRows:
        """Everything that starts in [start, end), for `posture.history.summarize`.

        Episodes reach back a day, so a nudge just after midnight finds the
        episode it interrupted.
        """
        return HistoryRows(minutes=tuple(self.minutes(start, end)), **self._events(start, end))

    def _events(self, start: datetime, end: datetime) -> dict[str, Any]:
        return {
            "episodes": tuple(self.episodes(start - timedelta(days=1), end)),
            "nudges": tuple(self.nudges(start, end)),
            "breaks": tuple(self.breaks(start, end)),
            "pains": tuple(self.pain_entries(start, end)),
        }

    def days(self, first: date, last: date, *, detail: bool = True) -> HistoryRows:
        """The rows of local days `first` to `last`, inclusive.

        With `detail`, every minute (a day's timeline and 10-minute scores need
        them). Without, the minutes summed up per day in SQL, and each minute's
        present seconds for the stretches of sitting: a year of history reads in a
        fraction of a second.
        """
        start, end = day_bounds(first)[0], day_bounds(last)[1]
        if detail:
            return self.rows(start, end)
        presence = self._tuples(
            "SELECT minute_start, present_s FROM minutes "
            "WHERE minute_start >= ? AND minute_start < ? ORDER BY minute_start",
            (_stamp(start), _stamp(end)),
        )
        return HistoryRows(
            day_totals=self._day_totals(first, last),
            presence=tuple(presence),
            **self._events(start, end),
        )

    def _day_totals(self, first: date, last: date) -> dict[date, Totals]:
        """Each local day's minutes summed up by SQLite, one indexed range per day."""
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        # The bounds are computed here (local midnights, DST included) and are
        # integers of our own making, so they go into the SQL as literals: a year
        # of them would pass the 999 parameters older SQLite versions allow.
        bounds = ", ".join(
            f"({index}, {round(day_bounds(day)[0].timestamp())}, "
            f"{round(day_bounds(day)[1].timestamp())})"
            for index, day in enumerate(days)
        )
        sums = ", ".join(f"SUM({column})" for column in VERDICT_COLUMNS.values())
        rows = self._tuples(
            f"WITH days (day, low, high) AS (VALUES {bounds}) "
            f"SELECT day, COUNT(*), SUM(credit_s), {sums} FROM days JOIN minutes "
            "ON minute_start >= low AND minute_start < high GROUP BY day"
        )
        verdicts = list(VERDICT_COLUMNS)
        return {
            days[row[0]]: Totals(
                {v: seconds for v, seconds in zip(verdicts, row[3:], strict=True) if seconds},
                row[2],
                row[1],
            )
            for row in rows
        }

    # -- data ownership --------------------------------------------------------------------

    def table_rows(self, table: str) -> list[dict[str, Any]]:
        """A table's rows as plain dicts, times as local ISO 8601 (for export)."""
        columns = self._columns(table)
        rows = self._tuples(self._export_query(table, columns, "values"))
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def _export_query(self, table: str, columns: list[str], form: str) -> str:
        """SELECT a table's rows in storage order, times as local ISO 8601: as Python
        values ("values"), or each row as one CSV line ("csv") or one JSON object
        ("json") made by SQLite. SQLite writes the times, the numbers and the line in
        C, so a year of minutes comes back as 120,000 strings rather than two million
        values for Python to format. Decimal numbers are rounded to EXPORT_DECIMALS
        places (milliseconds, thousandths of a degree), not written to 15 digits."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
        ranges = ", ".join(f"MIN({c}), MAX({c})" for c in TABLES[table])
        stamps = [v for v in self._tuples(f"SELECT {ranges} FROM {table}")[0] if v is not None]
        pieces = _offset_pieces(min(stamps), max(stamps)) if stamps else []
        info = {row["name"]: row for row in self._query(f"PRAGMA table_info({table})")}
        shown = [
            _local_iso_sql(c, pieces)
            if c in TABLES[table]
            else f"round({c}, {EXPORT_DECIMALS})"
            if info[c]["type"].upper() == "REAL"
            else c
            for c in columns
        ]
        if form == "json":
            pairs = ", ".join(f"'{c}', {e}" for c, e in zip(columns, shown, strict=True))
            shown = [f"json_object({pairs})"]
        elif form == "csv":
            cells = []
            for column, expression in zip(columns, shown, strict=True):
                if info[column]["type"].upper() == "TEXT":  # quoted, quotes doubled (RFC 4180)
                    expression = f"""'"' || replace({expression}, '"', '""') || '"'"""
                if not info[column]["notnull"]:
                    expression = f"COALESCE({expression}, '')"  # NULL: an empty cell
                cells.append(expression)
            shown = [" || ',' || ".join(cells)]
        return f"SELECT {', '.join(shown)} FROM {table} ORDER BY rowid"

    def export_all(self, path: Path, fmt: str = "csv") -> dict[str, int]:
        """Every table: one JSON file, or a new folder of CSV files (`TABLE.csv` each).

        Never overwrites: the target must not exist (an empty folder is fine for CSV).
        Files are created readable by the user only. Returns the rows per table.
        """
        if fmt not in ("csv", "json"):
            raise HistoryError(f"export format must be csv or json, got {fmt!r}")
        form = "json" if fmt == "json" else "csv"
        with self._lock:
            tables = {}
            for name in TABLES:
                columns = self._columns(name)
                tables[name] = (columns, self._tuples(self._export_query(name, columns, form)))
        try:
            if fmt == "json":
                self._export_json(path, tables)
            else:
                self._export_csv(path, tables)
        except PathError as error:
            raise HistoryError(f"cannot export: {error}") from None
        return {name: len(rows) for name, (_, rows) in tables.items()}

    def _export_json(
        self, path: Path, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    ) -> None:
        """{"format", "schema_version", "exported_at", "tables": {name: [row, ...]}}, one
        row (an object SQLite made) per line."""
        head = {
            "format": "posture-history",
            "schema_version": self.schema_version,
            "exported_at": self._now().isoformat(timespec="seconds"),
        }
        with private_text_file(path, exclusive=True) as out:
            out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "tables": {')
            for number, (name, (_, rows)) in enumerate(tables.items()):
                out.write(("" if number == 0 else ",") + f"\n{json.dumps(name)}: [")
                out.write(",".join("\n" + row[0] for row in rows))
                out.write("]")
            out.write("}}\n")

    def _export_csv(
        self, path: Path, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    ) -> None:
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            raise HistoryError(
                f"{path} already exists: give a new folder name for the CSV files, or move it away"
            )
        private_folder(path)
        for name, (columns, rows) in tables.items():
            with private_text_file(path / f"{name}.csv", exclusive=True) as out:
                out.write(",".join(columns) + "\r\n")
                out.write("".join(row[0] + "\r\n" for row in rows))

    def _columns(self, table: str) -> list[str]:
        return [row["name"] for row in self._query(f"PRAGMA table_info({table})")]

    def delete(self, before: date | None = None) -> dict[str, int]:
        """Deletes every row recorded before local midnight of `before` (None: everything).

        Returns the rows deleted per table. The file is then vacuumed and the
        WAL truncated, so the deleted rows do not linger in free pages.
        """
        cutoff = float("inf") if before is None else _stamp(day_bounds(before)[0])
        counts: dict[str, int] = {}
        with self._transaction() as conn:
            for table, column in _AGE_COLUMN.items():
                cursor = conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
                counts[table] = cursor.rowcount
            # A session goes with its last row; one still recording keeps its own.
            cursor = conn.execute(
                "DELETE FROM sessions WHERE started_at < ? AND id IS NOT ? AND NOT EXISTS "
                "(SELECT 1 FROM minutes WHERE session_id = sessions.id) AND NOT EXISTS "
                "(SELECT 1 FROM episodes WHERE session_id = sessions.id) AND NOT EXISTS "
                "(SELECT 1 FROM nudges WHERE session_id = sessions.id) AND NOT EXISTS "
                "(SELECT 1 FROM breaks WHERE session_id = sessions.id)",
                (cutoff, self._session_id),
            )
            counts["sessions"] = cursor.rowcount
        with self._lock, self._guard():
            self._conn.execute("VACUUM")
            if self.path != IN_MEMORY:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts
