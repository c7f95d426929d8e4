"""`posture report`, `posture pain add|list` and `posture data export|delete`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from posture.cli.common import NamedPath, UserText, command_name, stderr, stdout
from posture.config import load_config
from posture.history import day_bounds, summarize
from posture.pain import PAIN_LOCATIONS, printable
from posture.paths import writable_problem
from posture.store import HistoryError, HistoryStore, default_path

# A report spans at most a year: beyond that a table of days stops being readable.
MAX_RANGE_DAYS = 366
WEEK_DAYS = 7
# From this level on, `pain add` repeats the safety note.
PAIN_NOTE_FROM_LEVEL = 7
# The days a command takes: far enough from both ends of what dates and Unix time
# can hold that a week or a year around any of them is still a range of days.
FIRST_DAY = date(1971, 1, 1)
LAST_DAY = date(9998, 12, 31)


def today() -> date:
    """Today's local calendar day."""
    return datetime.now().astimezone().date()


class DateType(click.ParamType[date]):
    """YYYY-MM-DD, 'today' or 'yesterday' (local calendar days)."""

    name = "YYYY-MM-DD"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> date:
        """The day `value` names; a usage error saying what to type otherwise."""
        if isinstance(value, date):
            return value
        text = str(value).strip().lower()
        if text in ("today", "yesterday"):
            return today() - timedelta(days=text == "yesterday")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a date: use YYYY-MM-DD (e.g. {today().isoformat()}), "
                "'today' or 'yesterday'",
                param,
                None,
            )
        if not FIRST_DAY <= day <= LAST_DAY:
            self.fail(
                f"{value!r} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}",
                param,
                None,
            )
        return day


DATE = DateType()


def open_history(create: bool) -> HistoryStore:
    """The user's history, to write (`create`) or only to read.

    Reading commands open it read-only, so they work on a read-only file or disk and
    never change it; without a file yet, they read an empty one in memory (reading
    creates nothing).
    """
    path = default_path()
    if create:
        return HistoryStore(path)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise HistoryError(
            f"the data folder {folder} is a file, not a folder: set POSTURE_HOME to a folder"
        )
    if not path.exists():
        return HistoryStore.in_memory()
    return HistoryStore(path, read_only=True)


def resolve_range(
    day: date | None, week: bool, first: date | None, last: date | None
) -> tuple[date, date]:
    """The first and last day a report covers, from the options as given."""
    if (first or last) and (day or week):
        raise click.UsageError("use either --date/--week or --from/--to, not both")
    if last is not None and first is None:
        raise click.BadParameter("--to needs --from (the first day)", param_hint="'--to'")
    if first is not None:
        last = last or today()
        if last < first:
            raise click.BadParameter(
                f"--to {last} is before --from {first}: swap them", param_hint="'--to'"
            )
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise click.BadParameter(
                f"{first} to {last} is {(last - first).days + 1} days; "
                f"report at most {MAX_RANGE_DAYS} days at a time",
                param_hint="'--from'",
            )
        return first, last
    end = day or today()
    return (end - timedelta(days=WEEK_DAYS - 1), end) if week else (end, end)


def _check_output(path: Path | None, option: str, suffix: str | None) -> None:
    if path is None:
        return
    if suffix and path.suffix.lower() != suffix:
        raise click.BadParameter(
            f"{str(path)!r} must end in {suffix} (e.g. posture{suffix})", param_hint=option
        )
    if path.parent.exists() and not path.parent.is_dir():
        raise click.BadParameter(
            f"{str(path.parent)!r} is a file, not a folder: name a file in a folder",
            param_hint=option,
        )
    if not path.parent.is_dir():
        raise click.BadParameter(
            f"folder {str(path.parent)!r} does not exist: create it first", param_hint=option
        )
    problem = writable_problem(path)
    if problem is not None:
        raise click.BadParameter(problem, param_hint=option)


def show_report(
    store: HistoryStore,
    first: date,
    last: date,
    fmt: str = "table",
    chart: Path | None = None,
    html: Path | None = None,
    out: Console | None = None,
) -> None:
    """Prints the report for `first`..`last` and writes the chart and page asked for.

    `posture demo` calls this with its own store to end on the day's report. Breaks
    fall due by the user's configured `break_due`, as the monitor's reminders do.
    """
    from posture.report import render_table, to_csv, to_json, write_chart, write_html

    break_due_s = load_config()[0].break_due_s
    # Every minute where it is drawn or listed (a day; JSON and CSV give each day's
    # 10-minute scores and longest streak); otherwise the minutes summed up in SQL.
    detail = first == last or fmt in ("json", "csv")
    summary = summarize(first, last, store.days(first, last, detail=detail), break_due_s)
    out = out or stdout()
    if fmt == "json":
        click.echo(to_json(summary))
    elif fmt == "csv":
        click.echo(to_csv(summary), nl=False)
    else:
        out.print(render_table(summary, command_name()))
    # File notices go to stderr so that JSON and CSV on stdout stay clean.
    err = stderr()
    if chart is not None:
        write_chart(summary, chart)
        err.print(f"Chart written to {chart}", soft_wrap=True)
    if html is not None:
        write_html(summary, html)
        err.print(f"Page written to {html} (open it in any browser)", soft_wrap=True)


@click.command()
@click.option("--date", "day", type=DATE, help="The day to review (default: today).")
@click.option(
    "--week", is_flag=True, help="The 7 days ending on --date (default: the last 7 days)."
)
@click.option("--from", "first", type=DATE, help="First day of a range.")
@click.option("--to", "last", type=DATE, help="Last day of a range (default: today).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json; csv (days, then pain entries) for a spreadsheet.",
)
@click.option(
    "--chart",
    type=NamedPath(dir_okay=False),
    metavar="PATH.png",
    help="Also draw a chart: a day's timeline and score per 10 minutes, or daily scores.",
)
@click.option(
    "--html",
    type=NamedPath(dir_okay=False),
    metavar="PATH",
    help="Also write one self-contained page (chart inside) that opens in any browser.",
)
def report(
    day: date | None,
    week: bool,
    first: date | None,
    last: date | None,
    fmt: str,
    chart: Path | None,
    html: Path | None,
) -> None:
    """How you sat: a day's (or week's) posture score, breakdown, timeline and habit tips.

    The score is the share of your time at the desk spent in good posture,
    with bad posture counting less the further past its threshold it went.
    Pain journal entries (`posture pain add`) appear beside it. Works while
    `posture monitor` is recording.
    """
    start, end = resolve_range(day, week, first, last)
    _check_output(chart, "'--chart'", ".png")
    _check_output(html, "'--html'", None)
    with open_history(create=False) as store:
        show_report(store, start, end, fmt, chart, html)
    if not default_path().exists():  # a new user: say where a day's posture comes from
        stderr().print(
            f"Nothing is recorded yet: `{command_name()} monitor` records your day "
            f"(`{command_name()} demo` shows a sample day without a camera).",
            markup=False,
            highlight=False,
        )


# -- the pain journal --------------------------------------------------------------------------


@click.group()
def pain() -> None:
    """Write down upper-back pain as it happens, to show a clinician later."""


@pain.command("add")
@click.option(
    "--level",
    type=click.IntRange(0, 10),
    required=True,
    help="0 no pain ... 10 worst imaginable.",
)
@click.option(
    "--where",
    type=click.Choice(PAIN_LOCATIONS),
    default="upper-back",
    show_default=True,
    help="Where it hurts.",
)
@click.option(
    "--feels", type=UserText(), default="", metavar="WORDS", help="How it feels: 'dull, aching'..."
)
@click.option(
    "--note", type=UserText(), default="", metavar="TEXT", help="What you were doing, what helped."
)
def pain_add(level: int, where: str, feels: str, note: str) -> None:
    """Add a pain journal entry, timed now."""
    with open_history(create=True) as store:
        entry = store.add_pain(datetime.now().astimezone(), level, where, feels, note)
    out = stdout()
    feeling = f" ({printable(entry.feels)})" if entry.feels else ""
    out.print(
        Text(
            f"Noted at {entry.at.strftime('%H:%M')}: {entry.where.replace('-', ' ')} pain "
            f"{entry.level}/10{feeling}. It appears beside your posture in "
            f"`{command_name()} report`."
        )
    )
    if entry.level >= PAIN_NOTE_FROM_LEVEL:
        from posture.report.model import SAFETY_NOTE

        out.print(SAFETY_NOTE)


@pain.command("list")
@click.option("--from", "first", type=DATE, help="First day (default: the first entry).")
@click.option("--to", "last", type=DATE, help="Last day (default: today).")
def pain_list(first: date | None, last: date | None) -> None:
    """List pain journal entries, oldest first."""
    if first and last and last < first:
        raise click.BadParameter(
            f"--to {last} is before --from {first}: swap them", param_hint="'--to'"
        )
    start = day_bounds(first)[0] if first else None
    end = day_bounds(last)[1] if last else None
    with open_history(create=False) as store:
        entries = store.pain_entries(start, end)
    out = stdout()
    if not entries:
        out.print(f"No pain entries: add one with `{command_name()} pain add --level N`.")
        return
    table = Table(title="Pain journal", title_justify="left")
    for column in ("when", "level", "where", "feels", "note"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M"),
            f"{entry.level}/10",
            entry.where.replace("-", " "),
            Text(printable(entry.feels)),
            Text(printable(entry.note)),
        )
    out.print(table)


# -- data ownership ----------------------------------------------------------------------------


@click.group()
def data() -> None:
    """Your history: export all of it, or delete it."""


@data.command("export")
@click.argument("path", type=NamedPath())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    help="csv: a new folder with one file per table; json: one file. "
    "Default: json when PATH ends in .json, else csv.",
)
def data_export(path: Path, fmt: str | None) -> None:
    """Export every table of your history (never overwrites anything)."""
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "csv")
    if fmt == "csv" and path.suffix.lower() == ".csv":
        raise click.BadParameter(
            f"a CSV export is a new folder with one file per table, not one file: name a "
            f"folder (e.g. {path.with_suffix('')}), or {path.with_suffix('.json')} for one "
            "JSON file",
            param_hint="PATH",
        )
    with open_history(create=False) as store:
        counts = store.export_all(path, fmt)
    where = path if fmt == "json" else f"{path}/ (one CSV file per table)"
    detail = ", ".join(f"{n} {table}" for table, n in counts.items())
    stdout().print(f"Exported {sum(counts.values())} rows to {where}: {detail}.", soft_wrap=True)


@data.command("delete")
@click.option("--before", type=DATE, help="Delete only what was recorded before this day.")
@click.option("--yes", is_flag=True, help="Confirm: deleting cannot be undone.")
def data_delete(before: date | None, yes: bool) -> None:
    """Delete your posture history and pain journal (everything, or --before DATE)."""
    what = f"--before {before.isoformat()} " if before else ""
    if not yes:
        raise click.UsageError(
            f"deleting history cannot be undone: run `{command_name()} data delete {what}--yes` "
            "to confirm"
        )
    path = default_path()
    if not path.exists():
        stdout().print(f"No history at {path}: nothing to delete.", soft_wrap=True)
        return
    with open_history(create=True) as store:
        counts = store.delete(before)
    total = sum(counts.values())
    detail = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
    scope = f"from before {before.isoformat()}" if before else "(everything)"
    stdout().print(
        f"Deleted {total} rows {scope} from {path}" + (f": {detail}." if detail else "."),
        soft_wrap=True,
    )
