"""`posture config show|path|init`: the settings in effect, and the file behind them."""

from __future__ import annotations

import click
from rich.table import Table

from posture.cli.common import stdout
from posture.config import (
    ENV_CONFIG,
    SETTINGS,
    config_path,
    load_config,
    write_default_config,
)
from posture.errors import NotifierError
from posture.notify import desktop_unavailable, resolve_choice


@click.group()
def config() -> None:
    """Show the settings in effect, or create a configuration file.

    Settings come from, in order of precedence: command-line flags, environment
    variables (POSTURE_FPS, POSTURE_COOLDOWN, ...), the configuration file, and
    the built-in defaults.
    """


@config.command("show")
def show() -> None:
    """Print each setting, its value and where it came from."""
    settings, sources = load_config()
    path = config_path()
    console = stdout()
    state = "exists" if path.is_file() else "not found: defaults apply"
    console.print(f"Config file: {path} ({state})", soft_wrap=True, highlight=False, markup=False)
    table = Table(title_justify="left")
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for setting in SETTINGS:
        # The path is printed once above; in the table it would only wrap.
        source = sources[setting.field].replace(f"config file {path}", "config file")
        table.add_row(setting.key, setting.display(getattr(settings, setting.field)), source)
    console.print(table)
    console.print(_notifier_line(settings.notifier), soft_wrap=True, highlight=False, markup=False)


def _notifier_line(choice: str) -> str:
    try:
        sink, why = resolve_choice(choice)
    except NotifierError as error:  # cannot happen after load_config, but never crash `show`
        return f"Reminders: {error}"
    if choice == "auto":
        return f"Reminders: auto -> {sink} ({why})"
    problem = desktop_unavailable() if sink == "desktop" else None
    if problem is not None:
        return f"Reminders: desktop, but not possible here: {problem}"
    return f"Reminders: {sink}"


@config.command("path")
def path_command() -> None:
    """Print the configuration file's path (set POSTURE_CONFIG to use another)."""
    click.echo(str(config_path()))


@config.command("init")
def init() -> None:
    """Write a configuration file with every setting at its default, commented out.

    Never overwrites an existing file.
    """
    path = config_path()
    write_default_config(path)
    stdout().print(
        f"Wrote {path}: uncomment a line to change that setting. "
        f"(Set {ENV_CONFIG} to keep the file elsewhere.)",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
