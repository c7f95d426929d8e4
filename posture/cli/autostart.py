"""`posture autostart enable|disable|status`: start posture when you log in."""

from __future__ import annotations

import importlib.util
import sys

import click

from posture.autostart import Entry, autostart_for, posture_command, shell_words
from posture.cli.common import command_name, stdout

# What may run at login: the long-running commands. Anything else would run once and exit.
LOGIN_COMMANDS = ("tray", "monitor")
# `status` exits with this when the entry names a program that no longer exists.
EXIT_BROKEN = 1


def login_commands() -> list[str]:
    """The long-running commands this build of posture has."""
    context = click.get_current_context().find_root()
    root = context.command
    # The group loads its commands lazily: ask it for their names, not what it holds.
    known = root.list_commands(context) if isinstance(root, click.Group) else []
    return [name for name in LOGIN_COMMANDS if name in known]


def default_login_args(commands: list[str]) -> list[str]:
    """The tray where it and its library are installed, else the monitor on its own."""
    if "tray" in commands and importlib.util.find_spec("PySide6") is not None:
        return ["tray"]
    return ["monitor"]


def _describe(entry: Entry) -> list[str]:
    lines = [f"  {entry.mechanism}: {entry.location}", f"  runs: {shell_words(entry.command)}"]
    if not entry.enabled:
        lines.append("  (switched off in your desktop's start-up settings)")
    return lines


@click.group()
def autostart() -> None:
    """Start posture when you log in (the tray icon, or the monitor alone).

    Uses your system's own mechanism: an XDG autostart entry on Linux, a
    LaunchAgent on macOS, a Run registry value on Windows. The entry names the
    absolute path of this installation's `posture`, so it does not depend on PATH.
    """


@autostart.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [OPTIONS]]")
def enable(args: tuple[str, ...]) -> None:
    """Start posture at login: `tray` (the default where installed) or `monitor`, with options.

    For example `posture autostart enable monitor --profile desk --quiet`.
    Enabling again replaces the entry.
    """
    commands = login_commands()
    words = list(args) or default_login_args(commands)
    if words[0] not in commands:
        raise click.BadParameter(
            f"{words[0]!r} is not a command to run at login: use " + " or ".join(commands),
            param_hint="COMMAND",
        )
    entry = autostart_for().enable(posture_command(words))
    out = stdout()
    out.print("posture will start when you log in:", soft_wrap=True)
    for line in _describe(entry):
        out.print(line, soft_wrap=True, markup=False)
    out.print(f"Undo with `{command_name()} autostart disable`.", markup=False)


@autostart.command()
def disable() -> None:
    """Stop starting posture at login (removes the entry `enable` wrote)."""
    mechanism = autostart_for()
    entry = mechanism.disable()
    if entry is None:
        stdout().print(
            f"posture was not set to start at login (no {mechanism.location}).", markup=False
        )
        return
    stdout().print(f"Removed {entry.location}: posture no longer starts at login.", markup=False)


@autostart.command()
def status() -> None:
    """Say whether posture starts at login, with what command, and whether it still exists.

    Exits 1 when the entry names a program that no longer exists (posture was
    moved or uninstalled): run `enable` again to repair it.
    """
    mechanism = autostart_for()
    entry = mechanism.status()
    out = stdout()
    if entry is None:
        out.print(f"posture does not start at login (no {mechanism.location}).", markup=False)
        return
    out.print("posture starts at login:")
    for line in _describe(entry):
        out.print(line, soft_wrap=True, markup=False)
    if entry.program_exists():
        out.print(f"  the program exists: {entry.program}", soft_wrap=True, markup=False)
        return
    click.echo(
        f"posture: error: the login entry runs {entry.program or 'nothing'}, which does not "
        f"exist any more: run `{command_name()} autostart enable` to repair it",
        err=True,
    )
    sys.exit(EXIT_BROKEN)
