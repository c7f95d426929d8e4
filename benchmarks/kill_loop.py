"""Kill the real monitor with SIGKILL at random moments, and check the history after each.

    python benchmarks/kill_loop.py                      # 20 kills, replay as fast as it goes
    python benchmarks/kill_loop.py --kills 60 --speed 1 --window 0.5 45
    python benchmarks/kill_loop.py --json               # one JSON object (the test reads it)

Each round starts the real `posture monitor` (`python -m posture`), replaying the bundled
session with `--record` into one data folder, and kills it with SIGKILL a random time
(uniform over `--window` seconds) after it was started or, in a share of the rounds,
after its first verdict: in start-up, as the session begins, mid-replay while writing,
or after it ended. After each kill:

- `PRAGMA integrity_check` on the history is "ok" (when the history exists yet);
- the restart is clean: the next round's monitor starts (the lock the killed one held is
  free), prints no error and no traceback;
- at most the current minute is lost: with `--speed` above 0, the seconds the killed
  monitor had replayed (time since its first verdict, times the speed) less the
  seconds its session holds in the history. A replay is filed within one minute
  (the 40 s session), which is only written when the session ends or a minute of
  loop time passes, so a kill mid-replay loses what was replayed so far.

A last round runs to its end (exit 0, session closed) and `posture report` reads the
result. It prints numbers; the assertions live in tests/test_kill_loop.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SESSION_VIDEO = REPO / "samples" / "session.mp4"


@dataclass
class Round:
    """What one killed monitor did and left behind."""

    killed_after_s: float
    first_verdict_after_s: float | None  # None: killed before judging anything
    integrity: str | None  # None: no history yet
    started_clean: bool  # no error, no traceback, not refused by the lock
    sessions: int  # sessions in the history after the kill
    session_present_s: float | None  # what the killed session holds (None: no session)
    lost_s: float | None  # replayed less recorded (--speed > 0 only)


def monitor_command(speed: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "posture",
        "-v",
        "monitor",
        "--source",
        str(SESSION_VIDEO),
        "--record",
        "--quiet",
        "--speed",
        f"{speed:g}",
    ]


def spawn(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], list]:
    """Start a process; a thread keeps its stderr lines with the time each arrived."""
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append((time.monotonic(), line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return process, [lines, reader]


def history_after(db: Path) -> tuple[str | None, int, float | None]:
    """integrity_check, the number of sessions, and the latest session's present seconds."""
    if not db.exists():
        return None, 0, None
    conn = sqlite3.connect(db, timeout=10)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "sessions" not in tables:
            return integrity, 0, None
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        latest = conn.execute("SELECT MAX(id) FROM sessions").fetchone()[0]
        if latest is None:
            return integrity, sessions, None
        present = conn.execute(
            "SELECT COALESCE(SUM(present_s), 0) FROM minutes WHERE session_id = ?", (latest,)
        ).fetchone()[0]
        return integrity, sessions, float(present)
    finally:
        conn.close()


def one_round(
    env: dict[str, str], db: Path, speed: float, kill_after_s: float, after_verdict: bool
) -> Round:
    """One monitor, SIGKILLed `kill_after_s` after it started or, with `after_verdict`,
    after its first verdict (so that the kill lands while it judges and writes, however
    long a loaded machine takes to start it)."""
    spawned = time.monotonic()
    process, (lines, reader) = spawn(monitor_command(speed), env)
    origin = spawned
    if after_verdict:
        deadline = spawned + 60
        while time.monotonic() < deadline and process.poll() is None:
            first = next((t for t, line in lines if "first verdict" in line), None)
            if first is not None:
                origin = first
                break
            time.sleep(0.01)
    time.sleep(max(0.0, origin + kill_after_s - time.monotonic()))
    killed_at = time.monotonic()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=10)
    text = "".join(line for _, line in lines)
    first = next((t for t, line in lines if "first verdict" in line), None)
    integrity, sessions, present = history_after(db)
    replayed = None if first is None or speed <= 0 else (killed_at - first) * speed
    lost = None if replayed is None or present is None else max(0.0, replayed - present)
    return Round(
        killed_after_s=round(killed_at - spawned, 3),
        first_verdict_after_s=None if first is None else round(first - spawned, 3),
        integrity=integrity,
        started_clean="Traceback" not in text and "posture: error" not in text,
        sessions=sessions,
        session_present_s=present,
        lost_s=None if lost is None else round(lost, 2),
    )


def last_round(env: dict[str, str], db: Path) -> dict[str, object]:
    """A monitor left to finish, then a report: both must succeed on what the kills left."""
    done = subprocess.run(
        monitor_command(0), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    report = subprocess.run(
        [sys.executable, "-m", "posture", "report", "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    integrity, sessions, present = history_after(db)
    conn = sqlite3.connect(db)
    try:
        ended = conn.execute(
            "SELECT ended_at IS NOT NULL FROM sessions ORDER BY id DESC LIMIT 1"
        ).fetchone()[0]
        fullest_minute = conn.execute("SELECT MAX(present_s) FROM minutes").fetchone()[0]
    finally:
        conn.close()
    return {
        "exit": done.returncode,
        "summary_printed": "Session:" in done.stdout,
        "stderr_clean": "Traceback" not in done.stderr and "posture: error" not in done.stderr,
        "session_closed": bool(ended),
        "session_present_s": present,
        "report_exit": report.returncode,
        "integrity": integrity,
        "sessions": sessions,
        "fullest_minute_s": fullest_minute,
    }


def kill_loop(
    kills: int,
    speed: float,
    window: tuple[float, float],
    seed: int,
    home: Path,
    after_verdict_share: float = 0.5,
) -> dict[str, object]:
    env = {
        **os.environ,
        "POSTURE_HOME": str(home),
        "POSTURE_CONFIG": str(home / "config.toml"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    db = home / "history.sqlite3"
    rng = random.Random(seed)
    started = time.monotonic()
    rounds = [
        one_round(env, db, speed, rng.uniform(*window), rng.random() < after_verdict_share)
        for _ in range(kills)
    ]
    final = last_round(env, db)
    lost = [r.lost_s for r in rounds if r.lost_s is not None]
    return {
        "kills": kills,
        "speed": speed,
        "window_s": list(window),
        "after_verdict_share": after_verdict_share,
        "seed": seed,
        "integrity_ok": sum(r.integrity == "ok" for r in rounds),
        "no_history_yet": sum(r.integrity is None for r in rounds),
        "clean_starts": sum(r.started_clean for r in rounds),
        "killed_while_judging": sum(r.first_verdict_after_s is not None for r in rounds),
        "max_lost_s": max(lost) if lost else None,
        "final": final,
        "elapsed_s": round(time.monotonic() - started, 1),
        "rounds": [asdict(r) for r in rounds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--speed", type=float, default=0.0, help="replay speed (0: flat out)")
    parser.add_argument(
        "--window",
        type=float,
        nargs=2,
        default=(0.1, 2.0),
        metavar=("FROM", "TO"),
        help="kill this many seconds after the start, uniformly at random",
    )
    parser.add_argument(
        "--after-verdict-share",
        type=float,
        default=0.5,
        help="share of rounds whose window starts at the first verdict, not the start",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, help="data folder (default: a new temporary one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="posture-kill-"))
    result = kill_loop(
        args.kills, args.speed, tuple(args.window), args.seed, home, args.after_verdict_share
    )
    if args.json:
        print(json.dumps(result))
        return
    final = result["final"]
    print(
        f"{result['kills']} SIGKILLs at random {args.window[0]:g}-{args.window[1]:g} s after "
        f"the start or, in {args.after_verdict_share:.0%} of rounds, after the first verdict "
        f"(replay speed {args.speed:g}), {result['elapsed_s']} s:"
    )
    checked = result["kills"] - result["no_history_yet"]
    print(
        f"  integrity_check ok: {result['integrity_ok']}/{checked}"
        f" (no history yet at {result['no_history_yet']} kills)"
    )
    print(f"  clean starts: {result['clean_starts']}/{result['kills']}")
    print(f"  killed while judging: {result['killed_while_judging']}/{result['kills']}")
    if result["max_lost_s"] is not None:
        print(f"  most lost by one kill: {result['max_lost_s']} s of replayed session")
    print(
        f"  then a full run: exit {final['exit']}, session closed {final['session_closed']}, "
        f"report exit {final['report_exit']}, integrity {final['integrity']}, "
        f"{final['sessions']} sessions, fullest minute {final['fullest_minute_s']} s"
    )


if __name__ == "__main__":
    main()
