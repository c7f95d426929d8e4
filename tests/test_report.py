"""Reports from a scripted session: table, JSON, CSV, PNG, HTML (in a real headless browser),
habit tips, empty ranges, and the `report`, `pain` and `data` commands through `main`."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest
from matplotlib.patches import Rectangle
from rich.console import Console

from posture import cli as root
from posture.cli.report import data, pain, report
from posture.history import HistoryRows, MinuteRow, MinuteTally, summarize
from posture.records import Break, Episode, Nudge, Sample, SessionInfo
from posture.report import (
    CHART_SIZE_PX,
    SAFETY_NOTE,
    chart_png,
    choose_tips,
    render_table,
    to_csv,
    to_html,
    to_json,
)
from posture.report.chart import chart_figure
from posture.report.model import STATE_COLORS, block_cell, range_rows, score_color
from posture.store import HistoryStore, default_path
from posture.vocabulary import Verdict
from tests.fs_edges import needs_mounts, posture, run_read_only

V = Verdict
DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 9, 0).astimezone()
# "Now" for stores that write pain at fixed times: after them, whatever the real clock says.
LATER = T0 + timedelta(days=30)

# The scripted 30 minutes: (from minute, to minute, verdict, score, neck, trunk excess).
PLAN = [
    (0, 8, V.GOOD, 92, 0.3, 0.2),
    (8, 14, V.SLOUCH, 55, 0.5, 1.5),
    (14, 20, V.GOOD, 90, 0.4, 0.3),
    (20, 23, V.FORWARD_HEAD, 50, 1.7, 0.4),
    (23, 26, V.NO_PERSON, None, None, None),
    (26, 30, V.GOOD, 94, 0.2, 0.2),
]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record_session(store: HistoryStore, start: datetime = T0) -> None:
    """The 30-minute session, sampled every second, as the monitor would record it."""
    shift = start - T0
    store.begin_session(SessionInfo(start, "0", "camera", "default"))
    for first, last, verdict, score, neck, trunk in PLAN:
        for second in range(first * 60, last * 60):
            moment = start + timedelta(seconds=second + 1)
            store.add_sample(Sample(moment, 1.0, verdict, score, neck, trunk))
    store.add_episode(Episode(at(8) + shift, at(14) + shift, V.SLOUCH))
    store.add_nudge(Nudge(at(8.5) + shift, "posture", "Sit back."))
    store.add_episode(Episode(at(20) + shift, at(23) + shift, V.FORWARD_HEAD))
    store.add_nudge(Nudge(at(20.5) + shift, "posture", "Chin in gently."))
    store.add_break(Break(at(23) + shift, at(26) + shift))
    store.end_session(at(30) + shift)


@pytest.fixture
def scripted_day() -> date:
    with HistoryStore(now=lambda: LATER) as store:
        record_session(store)
        store.add_pain(at(21), 4, "upper-back", "dull, aching", "between the shoulder blades")
    return DAY


def day_summary(first: date = DAY, last: date = DAY):
    with HistoryStore() as store:
        return summarize(first, last, store.days(first, last))


def text_of(renderable: object, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.fixture
def run(monkeypatch, capsys):
    """`posture ARGS` in-process through the real `main`, with these commands registered."""
    for command in (report, pain, data):
        monkeypatch.setitem(root.cli.commands, command.name, command)
    monkeypatch.setenv("COLUMNS", "100")

    def invoke(*args: str) -> tuple[int, str, str]:
        try:
            root.main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


# -- the terminal table ------------------------------------------------------------------------

DAY_TABLE = """\
Posture on Tue 2026-11-24: 74/100
Score: the share of your time at the desk spent in good posture; bad posture counts less the further
past its threshold it goes. Away time does not count.

at the desk           27 min  09:00-09:30
good                  18 min  67 %
slouch                 6 min  22 %
forward head           3 min  11 %
reclined               0 min  0 %
too close              0 min  0 %
leaning sideways       0 min  0 %
no pose (leaning in)   0 min  0 %
away                   3 min  monitor on, nobody there
episodes                   2  longest 6 min, slouch from 09:08
longest good streak    8 min  09:00-09:08
breaks taken               1  0 due (every 45 min); longest sitting 23 min
nudges                     2  2 posture; back to good in 4 min (median)

Score per 10 minutes
hour  :00  :10  :20  :30  :40  :50
09     85   70   64    ·    ·    ·
80 and up  60 to 79  under 60  - under a minute at the desk

Pain journal
when   level  where       feels         note
09:21  4/10   upper back  dull, aching  between the shoulder blades

Habit tips
 •  Slouching: Sit back so the chair supports your mid and lower back (a small cushion helps), feet
    flat, and draw your shoulder blades gently back and down.
    Stretch and strengthen: Open the upper back: 10 slow extensions over the top of the backrest
    and a 30-second doorway chest stretch; strengthen it with rows or band pull-aparts 2-3 times a
    week.
 •  Head forward of the shoulders: Raise the screen so its top edge is at eye level, about an arm's
    length away; on a laptop, a stand and a separate keyboard do it.
    Stretch and strengthen: Chin tucks: glide your head straight back (a small double chin), hold
    for five seconds, 10 times, a few times a day.

Pain written down on 1 day: `posture report --week --format csv` puts posture and pain side by side
for a clinician.

This is not medical advice. See a clinician when upper-back pain persists or gets worse, and seek
emergency care at once when back pain comes with chest pain or trouble breathing.
"""


def _trimmed(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_day_table_snapshot(scripted_day):
    assert _trimmed(text_of(render_table(day_summary()))) == DAY_TABLE


def test_the_score_is_the_documented_one_for_the_scripted_day(scripted_day):
    summary = day_summary()
    # 18 min good count fully, 6 min slouch at 1.5 tolerances count 1/4, 3 min forward
    # head at 1.7 count 0.15; 3 min away do not count.
    expected = 100 * (18 * 60 + 6 * 60 * 0.25 + 3 * 60 * 0.15) / (27 * 60)
    assert summary.score == round(expected) == 74
    (day,) = summary.days
    assert [b.score for b in day.blocks] == [85, 70, 64]
    assert day.breaks_taken == 1 and day.median_recovery_s == 240


def test_a_range_summed_up_in_sql_says_what_the_minutes_say(scripted_day):
    """Ranges read the minutes summed up per day by SQLite; every number they show is
    the one the minutes give, day by day (a second session overlapping the first
    included)."""
    with HistoryStore(now=lambda: LATER) as store:
        record_session(store, T0 - timedelta(days=2))
        record_session(store, T0 - timedelta(days=2, seconds=-30))  # overlaps minute by minute
        first, last = DAY - timedelta(days=6), DAY
        detailed = summarize(first, last, store.days(first, last, detail=True), 20 * 60)
        summed = summarize(first, last, store.days(first, last, detail=False), 20 * 60)
    assert summed.score == detailed.score is not None
    assert [d.recorded for d in summed.days] == [d.recorded for d in detailed.days]
    for one, other in zip(summed.days, detailed.days, strict=True):
        assert one.score == other.score and one.seconds.keys() == other.seconds.keys()
        assert all(one.seconds[v] == pytest.approx(other.seconds[v]) for v in one.seconds)
        assert one.breaks_due == other.breaks_due
        assert one.longest_sitting_s == other.longest_sitting_s
        assert (one.episodes, one.nudges, one.recovery_s) == (
            other.episodes,
            other.nudges,
            other.recovery_s,
        )
    assert range_rows(summed) == range_rows(detailed)
    assert sum(d.breaks_due for d in summed.days) > 0


# -- JSON and CSV ------------------------------------------------------------------------------


def test_json_report(scripted_day):
    document = json.loads(to_json(day_summary()))
    assert document["from"] == document["to"] == "2026-11-24" and document["score"] == 74
    (day,) = document["days"]
    assert day["minutes"]["present"] == 27.0 and day["minutes"]["good"] == 18.0
    assert day["minutes"]["slouch"] == 6.0 and day["minutes"]["forward-head"] == 3.0
    assert day["minutes"]["no-person"] == 3.0
    assert day["episodes"] == {
        "count": 2,
        "longest_minutes": 6.0,
        "longest_verdict": "slouch",
        "longest_start": at(8).isoformat(timespec="seconds"),
    }
    assert day["breaks"]["taken"] == 1 and day["nudges"] == {"posture": 2}
    assert day["median_recovery_seconds"] == 240.0
    assert [b["score"] for b in day["blocks"]] == [85, 70, 64]
    assert day["pain"][0]["level"] == 4 and day["pain"][0]["where"] == "upper-back"
    assert [t["topic"] for t in document["tips"]] == ["slouch", "forward-head"]
    assert (
        document["safety_note"] == SAFETY_NOTE
        and "share of present time" in (document["score_definition"])
    )


def test_week_csv_puts_days_and_pain_side_by_side(scripted_day):
    with HistoryStore(now=lambda: LATER) as store:
        record_session(store, T0 - timedelta(days=2))
        store.add_pain(at(15) - timedelta(days=3), 7, "neck", "sharp", 'said "ouch", twice')
    rows = list(csv.DictReader(io.StringIO(to_csv(day_summary(DAY - timedelta(days=6), DAY)))))
    days = [r for r in rows if r["record"] == "day"]
    pains = [r for r in rows if r["record"] == "pain"]
    assert [r["date"] for r in days] == [str(DAY - timedelta(days=i)) for i in range(6, -1, -1)]
    scored = {r["date"]: r["score"] for r in days if r["score"]}
    assert scored == {"2026-11-22": "74", "2026-11-24": "74"}
    today = days[-1]
    assert today["present_min"] == "27.0" and today["good_min"] == "18.0"
    assert today["episodes"] == "2" and today["breaks_taken"] == "1"
    assert [(p["date"], p["time"], p["pain_level"], p["pain_where"]) for p in pains] == [
        ("2026-11-21", "09:15", "7", "neck"),
        ("2026-11-24", "09:21", "4", "upper-back"),
    ]
    assert pains[0]["pain_note"] == 'said "ouch", twice'


# -- the chart ---------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def decoded(data: bytes):
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_day_chart_is_a_png_of_the_documented_size_with_colour_in_it(scripted_day, tmp_path):
    data = chart_png(day_summary())
    assert png_size(data) == CHART_SIZE_PX
    image = decoded(data)
    assert image.std() > 30  # far from blank
    # The timeline's good-posture green (#009E73, BGR 115, 158, 0) covers a visible area.
    green = ((abs(image[:, :, 0] - 115) < 8) & (abs(image[:, :, 1] - 158) < 8)).sum()
    assert green > 2000


def test_week_and_empty_charts(scripted_day):
    assert png_size(chart_png(day_summary(DAY - timedelta(days=6), DAY))) == CHART_SIZE_PX
    empty = chart_png(day_summary(date(2026, 12, 1), date(2026, 12, 1)))
    assert png_size(empty) == CHART_SIZE_PX


# -- the pictures at their edges ----------------------------------------------------------------


def _tallied(offset_s: float, **seconds: float) -> MinuteRow:
    """The minute starting `offset_s` after T0, every second of it with a slouch's depth."""
    tally = MinuteTally(T0 + timedelta(seconds=offset_s))
    for name, spent in seconds.items():
        tally.add(Verdict(name.replace("_", "-")), spent, 0.3, 1.5)
    return tally.row()


def test_a_block_of_seconds_draws_no_full_bar_and_no_score(tmp_path):
    """Half a second at the desk in 09:00-09:10 is too little to score: no bar, and
    '-' in the grids; the full block beside it is drawn and scored."""
    rows = [_tallied(9 * 60, good=0.5)] + [_tallied(m * 60, good=60) for m in range(10, 20)]
    summary = summarize(DAY, DAY, HistoryRows(tuple(rows)))
    scores_axes = chart_figure(summary).axes[1]
    bars = [patch for patch in scores_axes.patches if isinstance(patch, Rectangle)]
    assert [round(bar.get_height()) for bar in bars] == [100]
    assert round(bars[0].get_x() * 60) == 9 * 60 + 10  # 09:10, in hours since midnight
    first, second = summary.days[0].blocks
    assert (block_cell(first).text, block_cell(second).text) == ("-", "100")
    assert 'title="under a minute at the desk: too little to score">-</td>' in to_html(summary)


def test_pain_labels_in_one_minute_are_never_printed_over_each_other(scripted_day):
    with HistoryStore(now=lambda: LATER) as store:
        for seconds, level in ((20, 6), (40, 7), (360, 2)):
            store.add_pain(at(21) + timedelta(seconds=seconds), level, "neck")
    figure = chart_figure(day_summary())
    renderer = figure.canvas.get_renderer()
    labels = [t for t in figure.axes[0].texts if "/10" in t.get_text()]
    assert sorted(", ".join(t.get_text() for t in labels).split(", ")) == [
        "2/10",
        "4/10",
        "6/10",
        "7/10",
    ]
    boxes = [label.get_window_extent(renderer) for label in labels]
    assert len(boxes) >= 2
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def test_ten_minute_cells_are_coloured_by_their_score_not_their_state(scripted_day):
    """09:10-09:20 was mostly good (6 of 10 minutes) but scored 70: its cell is the
    colour of 70, not of good posture."""
    (day,) = day_summary().days
    block = day.blocks[1]
    assert (block.state, block.score) == (V.GOOD, 70)
    assert block_cell(block).color == score_color(70) != STATE_COLORS[V.GOOD]
    assert f'<td style="background:{score_color(70)};color:#000"' in to_html(day_summary())


def test_a_slouch_that_never_filled_a_minute_still_shows_on_the_timeline():
    """Each minute 45 s upright and 15 s slouched, no episode: every minute's main
    state is good, but the timeline shows the slouch in its share of each minute."""
    rows = tuple(_tallied(9 * 3600 + m * 60, good=45, slouch=15) for m in range(20))
    rows = tuple(
        dataclasses.replace(r, start=T0 + (r.start - T0) - timedelta(hours=9)) for r in rows
    )
    (day,) = summarize(DAY, DAY, HistoryRows(rows)).days
    assert {span.verdict for span in day.timeline} == {V.GOOD}
    assert sum(s.seconds for s in day.composition if s.verdict is V.SLOUCH) == pytest.approx(300)
    figure = chart_figure(summarize(DAY, DAY, HistoryRows(rows)))
    strip = figure.axes[0].get_window_extent()
    image = decoded(chart_png(summarize(DAY, DAY, HistoryRows(rows))))
    height = image.shape[0]
    region = image[round(height - strip.y1) : round(height - strip.y0), :]
    slouch = (abs(region[:, :, 0] - 0) < 8) & (abs(region[:, :, 1] - 159) < 8)
    slouch &= abs(region[:, :, 2].astype(int) - 230) < 8
    assert slouch.sum() > 500


# -- the HTML page -----------------------------------------------------------------------------


def test_html_page_is_self_contained_and_escapes_what_users_wrote(scripted_day):
    with HistoryStore(now=lambda: LATER) as store:
        store.add_pain(at(25), 3, "neck", "odd <b>", "<script>alert(1)</script> & more")
    page = to_html(day_summary())
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"(https?:)?//|url\(|@import", text, re.IGNORECASE)  # no URL at all
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert SAFETY_NOTE in page and "74<small>/100</small>" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)
def test_html_page_renders_in_headless_chromium(scripted_day, tmp_path):
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(to_html(day_summary()), encoding="utf-8")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), result.stderr[-2000:]
    image = decoded(shot.read_bytes())
    assert image.shape == (1600, 1200, 3)
    assert image.std() > 30
    # The embedded chart and the coloured 10-minute grid both show the good-posture green.
    green = ((abs(image[:, :, 0] - 115) < 10) & (abs(image[:, :, 1] - 158) < 10)).sum()
    assert green > 2000


# -- habit tips --------------------------------------------------------------------------------


def _minute(offset: int, **seconds: float) -> MinuteRow:
    spent = {Verdict(k.replace("_", "-")): s for k, s in seconds.items()}
    return MinuteRow(T0 + timedelta(minutes=offset), spent)


def _tips_for(minutes: list[MinuteRow], breaks: tuple[Break, ...] = ()) -> list[str]:
    summary = summarize(DAY, DAY, HistoryRows(tuple(minutes), breaks=breaks))
    return [tip.topic for tip in choose_tips(summary)]


@pytest.mark.parametrize(
    ("seconds", "topics"),
    [
        ({"good": 40, "forward_head": 20}, ["forward-head"]),
        ({"good": 40, "slouch": 20}, ["slouch"]),
        ({"good": 30, "slouch": 10, "forward_head": 20}, ["forward-head", "slouch"]),
        ({"good": 45, "person_no_pose": 15}, ["too-close"]),
        ({"good": 50, "reclined": 10}, ["reclined"]),
        ({"good": 59, "slouch": 1}, ["keep"]),
    ],
)
def test_tips_follow_what_dominated_the_day(seconds, topics):
    assert _tips_for([_minute(i, **seconds) for i in range(30)]) == topics


def test_sitting_without_breaks_brings_the_break_tip():
    sitting = [_minute(i, good=60) for i in range(100)]  # two breaks due, none taken
    assert _tips_for(sitting) == ["breaks"]
    with_breaks = [_minute(i, good=60) for i in range(40)] + [
        _minute(i, good=60) for i in range(43, 80)
    ]
    assert _tips_for(with_breaks, (Break(at(40), at(43)),)) == ["keep"]


def test_an_empty_range_has_no_tips_and_says_so():
    summary = summarize(DAY, DAY, HistoryRows())
    assert choose_tips(summary) == ()
    assert text_of(render_table(summary)).strip() == "No posture recorded on 2026-11-24."


# -- the commands ------------------------------------------------------------------------------


def test_report_command_prints_the_day_and_writes_chart_and_page(scripted_day, run, tmp_path):
    chart, page = tmp_path / "day.png", tmp_path / "day.html"
    code, out, err = run(
        "report", "--date", "2026-11-24", "--chart", str(chart), "--html", str(page)
    )
    assert code == 0, err
    assert "Posture on Tue 2026-11-24: 74/100" in out and "Habit tips" in out
    assert "4/10" in out and "not medical advice" in out
    assert f"Chart written to {chart}" in err and f"Page written to {page}" in err
    assert png_size(chart.read_bytes()) == CHART_SIZE_PX
    assert chart.stat().st_mode & 0o777 == 0o600 and page.stat().st_mode & 0o777 == 0o600
    assert "<!doctype html>" in page.read_text()


def test_report_formats_through_the_command(scripted_day, run):
    code, out, _ = run("report", "--date", "2026-11-24", "--format", "json")
    assert code == 0 and json.loads(out)["score"] == 74
    code, out, _ = run("report", "--week", "--date", "2026-11-24", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len([r for r in rows if r["record"] == "day"]) == 7
    assert [r["pain_level"] for r in rows if r["record"] == "pain"] == ["4"]
    code, out, _ = run("report", "--from", "2026-11-23", "--to", "2026-11-24")
    assert code == 0 and "Posture from Mon 2026-11-23 to Tue 2026-11-24: 74/100" in out


def test_breaks_fall_due_by_the_users_configured_interval(scripted_day, run, _isolated_home):
    """The monitor's break reminder is configurable (`break_due`): the report counts
    breaks due by the same setting, not by a number of its own."""
    code, out, _ = run("report", "--date", "2026-11-24")
    assert code == 0 and "0 due (every 45 min)" in out
    (_isolated_home / "config.toml").write_text('[monitor]\nbreak_due = "20min"\n')
    code, out, err = run("report", "--date", "2026-11-24")
    # 23 minutes of sitting before the break, 4 after: one break was due.
    assert code == 0, err
    assert "1 due (every 20 min)" in out
    code, out, _ = run("report", "--date", "2026-11-24", "--format", "json")
    assert json.loads(out)["days"][0]["breaks"]["due"] == 1


def test_empty_ranges_say_so_plainly_and_create_nothing(run):
    code, out, err = run("report", "--date", "2026-11-24")
    assert code == 0 and out.strip() == "No posture recorded on 2026-11-24."
    assert err.startswith("Nothing is recorded yet: `") and " monitor` records your day" in err
    code, out, _ = run("report", "--week", "--date", "2026-11-24")
    assert out.strip() == "No posture recorded from 2026-11-18 to 2026-11-24."
    code, out, _ = run("report", "--date", "2026-11-24", "--format", "json")
    assert json.loads(out)["message"] == "No posture recorded on 2026-11-24."
    assert not default_path().exists()


def test_report_works_while_the_monitor_is_writing(scripted_day, run):
    with HistoryStore() as writer:
        writer.begin_session(SessionInfo(at(60), "0", "camera", None))
        writer.add_sample(Sample(at(61), 60.0, V.GOOD, 90))
        writer.flush()
        raw = sqlite3.connect(default_path(), isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")  # the writer is mid-transaction
        raw.execute("DELETE FROM pain")
        code, out, err = run("report", "--date", "2026-11-24")
        raw.execute("ROLLBACK")
        raw.close()
    assert code == 0, err
    assert "Posture on Tue 2026-11-24" in out and "4/10" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["report", "--date", "2026-13-01"], 2, "'2026-13-01' is not a date: use YYYY-MM-DD"),
        (["report", "--from", "2026-11-24", "--to", "2026-11-20"], 2, "is before --from"),
        (["report", "--to", "2026-11-20"], 2, "--to needs --from"),
        (["report", "--date", "2026-11-24", "--from", "2026-11-20"], 2, "not both"),
        (["report", "--from", "2020-01-01", "--to", "2026-01-01"], 2, "at most 366 days"),
        (["report", "--chart", "day.jpg"], 2, "must end in .png"),
        (["report", "--chart", "no/such/folder/day.png"], 2, "does not exist: create it first"),
        (["report", "--format", "xml"], 2, "'xml' is not one of"),
        (["pain", "add"], 2, "missing option '--level'"),
        (["pain", "add", "--level", "11"], 2, "11 is not in the range 0<=x<=10"),
        (["pain", "add", "--level", "ouch"], 2, "'ouch' is not a valid integer"),
        (["pain", "add", "--level", "3", "--where", "knee"], 2, "'knee' is not one of"),
        (["pain", "add", "--level", "3", "--feels", "x" * 300], 1, "at most 200 characters"),
        (["pain", "list", "--from", "2026-11-24", "--to", "2026-11-01"], 2, "is before --from"),
        (["data", "delete"], 2, "cannot be undone: run `posture data delete --yes`"),
        (["data", "export", "out.txt", "--format", "yaml"], 2, "'yaml' is not one of"),
        (["report", "--date", "9999-12-31"], 2, "'9999-12-31' is out of range: use a day from"),
        (["report", "--date", "0001-01-01"], 2, "'0001-01-01' is out of range"),
        (["report", "--from", "0001-01-01", "--to", "0001-01-05"], 2, "is out of range"),
        (["report", "--from", "2026-01-01", "--to", "9999-12-31"], 2, "is out of range"),
        (["report", "--week", "--date", "0001-01-01"], 2, "is out of range"),
        (["data", "delete", "--before", "0001-01-01", "--yes"], 2, "is out of range"),
        (["data", "delete", "--before", "9999-12-31", "--yes"], 2, "is out of range"),
        (["pain", "list", "--from", "9999-12-31"], 2, "is out of range"),
    ],
)
def test_bad_input_is_a_clear_error(args, code, message, run):
    got, out, err = run(*args)
    assert got == code, err
    assert message in err and "Traceback" not in err and "internal error" not in err
    assert out == ""


def test_a_report_file_beside_a_file_not_in_a_folder_is_a_clear_error(run, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for option, name in (("--html", "day.html"), ("--chart", "day.png")):
        code, out, err = run("report", option, str(tmp_path / "notes.txt" / name))
        assert code == 2 and out == "" and "is a file, not a folder" in err, err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@needs_mounts
def test_a_report_file_on_a_read_only_disk_is_a_clear_error(scripted_day, _isolated_home, tmp_path):
    (tmp_path / "out").mkdir()
    env = {"POSTURE_HOME": str(_isolated_home), "POSTURE_CONFIG": str(tmp_path / "none.toml")}
    for option, name in (("--html", "day.html"), ("--chart", "day.png")):
        target = str(tmp_path / "out" / name)
        command = posture("report", "--date", "2026-11-24", option, target)
        done = run_read_only(tmp_path / "out", command, env)
        assert done.returncode == 2, done.stderr
        assert "read-only file system" in done.stderr and "Traceback" not in done.stderr
        assert "internal error" not in done.stderr and not (tmp_path / "out" / name).exists()


@pytest.mark.parametrize("below", [False, True])
def test_a_data_folder_that_is_a_file_is_one_clear_line(run, tmp_path, monkeypatch, below):
    """POSTURE_HOME naming a file (or a folder below a file): every command says so in
    one line, nothing is created and the file is left as it was."""
    blocker = tmp_path / "home"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POSTURE_HOME", str(blocker / "posture" if below else blocker))
    commands = [["pain", "add", "--level", "3"]]
    if not below:  # a folder below a file cannot hold a history: reading it finds none
        commands += [["report"], ["pain", "list"], ["data", "export", str(tmp_path / "x.json")]]
    for args in commands:
        code, out, err = run(*args)
        assert code == 1 and out == "", (args, err)
        assert err.startswith("posture: error: ") and err.count("\n") == 1, (args, err)
        assert "is a file, not a folder" in err, (args, err)
    assert blocker.read_text() == "not a folder"


def test_terminal_codes_in_a_pain_note_are_kept_but_never_echoed_raw(run, _isolated_home):
    """A note with escape sequences (clear screen, red) and rich markup is stored as
    typed; every command shows it with the codes made visible and no markup applied."""
    feels, note = "odd \x1b[31mred", "\x1b[2J[bold]cleared?[/bold]\nsecond line"
    code, out, err = run("pain", "add", "--level", "4", "--feels", feels, "--note", note)
    assert code == 0, err
    with HistoryStore() as store:
        (entry,) = store.pain_entries()
    assert (entry.feels, entry.note) == (feels, note)
    for args in (
        ["pain", "list"],
        ["report"],
        ["report", "--format", "csv"],
        ["report", "--format", "json"],
    ):
        code, shown, err = run(*args)
        assert code == 0, err
        assert "\x1b" not in shown, args  # the ESC character itself
        if args[-1] != "json":
            assert "\\x1b[2J[bold]cleared?[/bold]" in shown, (args, shown)
    assert "\x1b" not in out and "odd \\x1b[31mred" in out


@pytest.mark.parametrize(
    "args",
    [
        ["report"],
        ["report", "--week", "--format", "csv"],
        ["pain", "list"],
        ["data", "export", "x"],
    ],
)
def test_reading_commands_start_without_the_camera_stack(args, tmp_path):
    """The CLI imports only what a command needs: a report loads neither OpenCV,
    NumPy, MediaPipe nor matplotlib (the chart imports it when one is drawn)."""
    probe = (
        "import sys\n"
        "from posture.cli import main\n"
        "try:\n"
        f"    main({[*args[:-1], str(tmp_path / args[-1])] if args[0] == 'data' else args!r})\n"
        "except SystemExit as exit_:\n"
        "    assert not exit_.code, exit_.code\n"
        "heavy = ('numpy', 'cv2', 'mediapipe', 'matplotlib', 'calibration', 'posture.scoring')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


@needs_mounts
def test_reading_commands_work_on_a_read_only_disk_and_change_nothing(
    scripted_day, _isolated_home, tmp_path
):
    """report, data export and pain list open the history read-only: on a read-only
    mount they read it (a WAL database without its shared-memory file included)."""
    env = {"POSTURE_HOME": str(_isolated_home), "POSTURE_CONFIG": str(tmp_path / "none.toml")}
    before = default_path().read_bytes()
    done = run_read_only(_isolated_home, posture("report", "--date", "2026-11-24"), env)
    assert done.returncode == 0, done.stderr
    assert "Posture on Tue 2026-11-24: 74/100" in done.stdout
    done = run_read_only(_isolated_home, posture("data", "export", str(tmp_path / "a.json")), env)
    assert done.returncode == 0, done.stderr
    assert len(json.loads((tmp_path / "a.json").read_text())["tables"]["minutes"]) == 30
    done = run_read_only(_isolated_home, posture("pain", "list"), env)
    assert done.returncode == 0 and "between the shoulder blades" in done.stdout
    assert default_path().read_bytes() == before


@needs_mounts
def test_writing_on_a_read_only_disk_names_the_cause_not_chmod(
    scripted_day, _isolated_home, tmp_path
):
    env = {"POSTURE_HOME": str(_isolated_home), "POSTURE_CONFIG": str(tmp_path / "none.toml")}
    done = run_read_only(_isolated_home, posture("pain", "add", "--level", "3"), env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("posture: error: ") and done.stderr.count("\n") == 1
    assert "read-only file system" in done.stderr and "chmod" not in done.stderr
    # A data folder not made yet, below a read-only one: the same cause, one line.
    env["POSTURE_HOME"] = str(_isolated_home / "new" / "home")
    done = run_read_only(_isolated_home, posture("pain", "add", "--level", "3"), env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "read-only file system" in done.stderr and "Traceback" not in done.stderr


def test_a_corrupt_database_is_one_line_and_left_alone(run, _isolated_home):
    junk = b"definitely not sqlite" * 100
    default_path().write_bytes(junk)
    code, out, err = run("report")
    assert code == 1 and out == ""
    assert err.startswith("posture: error: ") and len(err.strip().splitlines()) == 1
    assert "not a posture history" in err and str(default_path()) in err
    assert default_path().read_bytes() == junk


def test_pain_journal_add_and_list(run):
    code, out, err = run("pain", "add", "--level", "5", "--feels", "tight", "--note", "long call")
    assert code == 0, err
    assert re.search(r"Noted at \d\d:\d\d: upper back pain 5/10 \(tight\)", out)
    assert "not medical advice" not in out
    code, out, _ = run("pain", "add", "--level", "8", "--where", "neck")
    assert code == 0 and "neck pain 8/10" in out and SAFETY_NOTE[:40] in out
    code, out, _ = run("pain", "list")
    assert code == 0 and "5/10" in out and "8/10" in out and "long call" in out
    code, out, _ = run("report", "--format", "json")
    assert [p["level"] for p in json.loads(out)["days"][0]["pain"]] == [5, 8]


def test_pain_list_when_empty(run):
    code, out, _ = run("pain", "list")
    assert code == 0 and "No pain entries" in out


def test_data_export_and_delete(scripted_day, run, tmp_path):
    code, out, err = run("data", "export", str(tmp_path / "all.json"))
    assert code == 0, err and "Exported" in out
    tables = json.loads((tmp_path / "all.json").read_text())["tables"]
    assert len(tables["minutes"]) == 30 and len(tables["pain"]) == 1
    code, out, _ = run("data", "export", str(tmp_path / "csv"))
    assert code == 0 and (tmp_path / "csv" / "minutes.csv").is_file()
    code, _, err = run("data", "export", str(tmp_path / "all.json"))
    assert code == 1 and "already exists" in err
    # A .csv name would become a folder called all.csv: say what to type instead.
    code, _, err = run("data", "export", str(tmp_path / "all.csv"))
    assert code == 2 and "one file per table" in err and "all.json" in err
    assert not (tmp_path / "all.csv").exists()
    code, out, _ = run("data", "delete", "--before", "2026-11-24", "--yes")
    assert code == 0 and "Deleted 0 rows from before 2026-11-24" in out
    code, out, _ = run("data", "delete", "--yes")
    assert code == 0 and "(everything)" in out and "30 minutes" in out
    code, out, _ = run("report", "--date", "2026-11-24")
    assert out.strip() == "No posture recorded on 2026-11-24."


def test_data_delete_without_history_says_so(run):
    code, out, _ = run("data", "delete", "--yes")
    assert code == 0 and "nothing to delete" in out and not default_path().exists()
