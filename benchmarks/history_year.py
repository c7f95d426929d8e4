"""A year of history, generated, and the real commands timed on it.

    python benchmarks/history_year.py                 # generate into a temp folder, time, delete
    python benchmarks/history_year.py --home DIR      # keep (and reuse) the history in DIR
    python benchmarks/history_year.py --repeat 5      # median of 5 runs per command

The year: 250 working days (Monday to Friday) of 8 hours from 09:00, written through
the store's public recorder API exactly as the monitor writes it (15-second samples,
episodes, nudges, breaks), plus one pain journal entry a day: 120,000 minutes, 7,500
episodes, 3,750 nudges, 1,500 breaks, 250 pain notes. The same seed gives the same
history. Then each command runs as the user runs it (`python -m posture ...`, a new
process each time, start-up included) and the median wall-clock time is printed:
a day's report, a week, a month, the whole range, and `data export` to CSV and JSON.

It prints numbers and asserts nothing: it is not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from posture.records import Break, Episode, Nudge, Sample, SessionInfo  # noqa: E402
from posture.store import HistoryStore  # noqa: E402
from posture.vocabulary import NudgeKind, Verdict  # noqa: E402

FIRST_DAY = date(2025, 1, 6)  # a Monday, well in the past: pain cannot be noted ahead of time
WORKING_DAYS = 250
DAY_START_H = 9
DAY_MINUTES = 8 * 60
SAMPLE_S = 15
EPISODES_PER_DAY = 30
NUDGES_PER_DAY = 15
BREAKS_PER_DAY = 6
SEED = 20261130

BAD = (Verdict.SLOUCH, Verdict.FORWARD_HEAD, Verdict.RECLINED, Verdict.TOO_CLOSE)


def working_days(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def day_plan(rng: random.Random) -> list[tuple[Verdict, int]]:
    """A day as (verdict, seconds) segments: good sitting, bad episodes, breaks away."""
    segments: list[tuple[Verdict, int]] = []
    # 36 slots: 30 bad episodes and 6 breaks in a shuffled order, good sitting between.
    slots = [True] * EPISODES_PER_DAY + [False] * BREAKS_PER_DAY
    rng.shuffle(slots)
    bad_s = [rng.randint(1, 6) * 60 for _ in range(EPISODES_PER_DAY)]
    break_s = [rng.randint(2, 6) * 60 for _ in range(BREAKS_PER_DAY)]
    left = DAY_MINUTES * 60 - sum(bad_s) - sum(break_s)
    good_s = [left // (len(slots) + 1)] * (len(slots) + 1)
    good_s[-1] += left - sum(good_s)
    bad, away = iter(bad_s), iter(break_s)
    for index, is_episode in enumerate(slots):
        segments.append((Verdict.GOOD, good_s[index]))
        if is_episode:
            segments.append((rng.choice(BAD), next(bad)))
        else:
            segments.append((Verdict.NO_PERSON, next(away)))
    segments.append((Verdict.GOOD, good_s[-1]))
    return segments


def samples(
    start: datetime, verdict: Verdict, seconds: int, rng: random.Random
) -> Iterator[Sample]:
    for offset in range(SAMPLE_S, seconds + 1, SAMPLE_S):
        if verdict is Verdict.NO_PERSON:
            yield Sample(start + timedelta(seconds=offset), SAMPLE_S, verdict, None)
            continue
        bad = verdict is not Verdict.GOOD
        trunk = rng.uniform(1.0, 2.2) if bad else rng.uniform(0.0, 0.8)
        neck = rng.uniform(1.0, 2.2) if verdict is Verdict.FORWARD_HEAD else rng.uniform(0, 0.8)
        score = rng.randint(20, 60) if bad else rng.randint(80, 100)
        yield Sample(start + timedelta(seconds=offset), SAMPLE_S, verdict, score, neck, trunk)


def record_day(store: HistoryStore, day: date, rng: random.Random) -> None:
    """One day through the recorder API; every other bad episode gets a nudge a minute in."""
    start = datetime(day.year, day.month, day.day, DAY_START_H).astimezone()
    store.begin_session(SessionInfo(start, "0", "camera", "default"))
    moment, episodes = start, 0
    for verdict, seconds in day_plan(rng):
        end = moment + timedelta(seconds=seconds)
        for sample in samples(moment, verdict, seconds, rng):
            store.add_sample(sample)
        if verdict is Verdict.NO_PERSON:
            store.add_break(Break(moment, end))
        elif verdict is not Verdict.GOOD:
            store.add_episode(Episode(moment, end, verdict))
            if episodes % 2 == 0:
                kind: NudgeKind = "distance" if verdict is Verdict.TOO_CLOSE else "posture"
                store.add_nudge(Nudge(moment + timedelta(seconds=30), kind, "Sit back."))
            episodes += 1
        moment = end
    store.end_session(moment)


def generate(path: Path) -> dict[str, int]:
    """Writes the year into a new history at `path`; returns the rows per table."""
    rng = random.Random(SEED)
    days = working_days(FIRST_DAY, WORKING_DAYS)
    latest = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time()).astimezone()
    with HistoryStore(path, now=lambda: latest) as store:
        for day in days:
            record_day(store, day, rng)
            noted = datetime(day.year, day.month, day.day, 15, rng.randint(0, 59)).astimezone()
            store.add_pain(noted, rng.randint(1, 7), rng.choice(("upper-back", "neck")))
    return count_rows(path)


def count_rows(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("minutes", "episodes", "nudges", "breaks", "pain")
        }
    finally:
        conn.close()


# -- timing the commands -------------------------------------------------------------------


def commands(days: list[date], out: Path) -> list[tuple[str, list[str]]]:
    last = days[-1]
    return [
        ("a day's report", ["report", "--date", last.isoformat()]),
        ("a week", ["report", "--week", "--date", last.isoformat()]),
        (
            "a month",
            ["report", "--from", (last - timedelta(days=29)).isoformat(), "--to", str(last)],
        ),
        ("the year's range", ["report", "--from", days[0].isoformat(), "--to", str(last)]),
        ("export CSV", ["data", "export", str(out / "csv-{run}")]),
        ("export JSON", ["data", "export", str(out / "all-{run}.json")]),
    ]


def time_command(args: list[str], home: Path, repeat: int) -> list[tuple[float, float]]:
    """(wall-clock, CPU) seconds of each run: CPU time (user + system, of the child)
    barely moves when other work shares the machine; wall-clock time is what a user waits."""
    env = {**os.environ, "POSTURE_HOME": str(home), "COLUMNS": "120"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    times = []
    for run in range(repeat):
        command = [sys.executable, "-m", "posture", *(a.format(run=run) for a in args)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        finished = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        times.append((wall, cpu))
        if finished.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{finished.stderr[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="keep the history here (reused when present)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (median shown)")
    parser.add_argument("--only", help="time only the commands whose label contains this")
    options = parser.parse_args()
    home = options.home or Path(tempfile.mkdtemp(prefix="posture-year-"))
    home.mkdir(parents=True, exist_ok=True)
    path = home / "history.sqlite3"
    days = working_days(FIRST_DAY, WORKING_DAYS)
    if path.exists():
        print(f"reusing {path}")
        counts = count_rows(path)
    else:
        started = time.perf_counter()
        counts = generate(path)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s")
    size_mb = sum(p.stat().st_size for p in home.glob("history.sqlite3*")) / 1e6
    print(", ".join(f"{n:,} {table}" for table, n in counts.items()) + f"; {size_mb:.1f} MB")
    print(f"{days[0]} to {days[-1]}; median of {options.repeat} runs, start-up included")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    out = Path(tempfile.mkdtemp(prefix="posture-year-out-"))
    try:
        for label, args in commands(days, out):
            if options.only and options.only not in label:
                continue
            times = time_command(args, home, options.repeat)
            wall = [w for w, _ in times]
            cpu = statistics.median(c for _, c in times)
            spread = f"(min {min(wall):.2f}, max {max(wall):.2f})" if len(wall) > 1 else ""
            print(
                f"{label:<18} {statistics.median(wall):7.2f} s  {spread:<24} CPU {cpu:5.2f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if options.home is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
