"""Exit codes, and the one line a failed command prints: the only place that knows them.

Exit codes (the README documents them):

- 0 success;
- 1 a posture error: a bad or missing profile, a refused calibration, a bad labels
  file, a history, data folder or output file that cannot be used;
- 2 bad arguments, an unreadable source, a bad configuration, an unavailable notifier;
- 3 the bundled model is broken;
- 70 a bug ("internal error"), never a bad input;
- 130 interrupted (Ctrl+C, or a confirmation prompt closed).

Every failure is one line on stderr, `posture: error: ...` (or `posture:
interrupted`): click's own usage errors too, which click prints on three lines.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from pathlib import Path

import click

from posture.errors import (
    AutostartError,
    ConfigError,
    DemoHomeError,
    ModelError,
    NotifierError,
    PostureError,
    SourceError,
    TrayError,
    refusal,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_BUG = 70  # EX_SOFTWARE in BSD's sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl+C

# The exit code of each kind of error; the most specific class of an error wins.
EXIT_CODES: dict[type[BaseException], int] = {
    PostureError: EXIT_ERROR,
    SourceError: EXIT_USAGE,
    ConfigError: EXIT_USAGE,
    NotifierError: EXIT_USAGE,
    # Set-up of the desktop side: a missing library, an unwritable autostart folder.
    AutostartError: EXIT_USAGE,
    DemoHomeError: EXIT_USAGE,  # a --home the demo did not make
    TrayError: EXIT_USAGE,
    ModelError: EXIT_MODEL,
    # An OSError that reaches the CLI is the file system refusing a path (see
    # `refused_by_system`): the user's set-up, not a bug.
    OSError: EXIT_ERROR,
    click.ClickException: EXIT_ERROR,
    click.UsageError: EXIT_USAGE,
    click.Abort: EXIT_INTERRUPTED,
    KeyboardInterrupt: EXIT_INTERRUPTED,
}

# OSErrors without a file name that still mean the machine, not posture, said no.
_SYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})

INTERRUPTED = "posture: interrupted"
# click's "No such option '--sped'. Did you mean '--speed'?" (or in brackets), as one sentence.
_DID_YOU_MEAN = re.compile(r"\.? \(?Did you mean (.*?)\?\)?$")


def exit_code(error: BaseException) -> int:
    """The exit code for an error that ended a command (`EXIT_BUG` for a bug)."""
    if isinstance(error, OSError) and not refused_by_system(error):
        return EXIT_BUG
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return EXIT_BUG


def refused_by_system(error: OSError) -> bool:
    """Whether an OSError is the file system refusing a path rather than a bug."""
    return error.filename is not None or error.errno in _SYSTEM_ERRNOS


def describe(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line to print for an error that ended a command."""
    code = exit_code(error)
    if code == EXIT_INTERRUPTED:
        return code, INTERRUPTED
    if isinstance(error, click.ClickException):
        return code, "posture: error: " + click_message(error)
    if isinstance(error, PostureError):
        return code, "posture: error: " + one_line(str(error))
    if isinstance(error, OSError) and code != EXIT_BUG:
        return code, "posture: error: " + one_line(_refusal(error))
    detail = one_line(f"{type(error).__name__}: {error}")
    return EXIT_BUG, (
        f"posture: internal error: {detail} "
        "(a bug: please report it; run with --verbose for the details)"
    )


def click_message(error: click.ClickException) -> str:
    """click's message in one line, ending with where to read more for a usage error.

    click prints "Usage: ...", "Try '... --help' for help." and "Error: ..." on
    three lines; the message and the hint are what helps, so they stay.
    """
    text = _DID_YOU_MEAN.sub(r" (did you mean \1?)", one_line(error.format_message())).rstrip(".")
    if text[1:2].islower():  # "Missing argument" -> "missing argument", "PATH ..." kept
        text = text[0].lower() + text[1:]
    context = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and context is not None:
        text += f"; see '{help_command(context)} --help'"
    return text


def help_command(context: click.Context) -> str:
    """The command to type for help: `posture monitor`, named the way posture was run."""
    from posture.cli.common import command_name

    path = context.command_path.split(" ", 1)
    return " ".join([command_name(), *path[1:]])


def one_line(text: str) -> str:
    """`text` as one printable line: whitespace runs become one space, and control
    characters (a terminal escape in a file name, say) are shown escaped, not obeyed."""
    flat = " ".join(text.split())
    return "".join(_printable(char) for char in flat)


def _printable(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cs"):  # controls; lone surrogates from argv
        return repr(char)[1:-1]
    return char


def _refusal(error: OSError) -> str:
    from posture.paths import ENV_HOME, data_dir

    path = Path(str(error.filename)) if error.filename is not None else None
    inside_data = path is not None and (path == data_dir() or data_dir() in path.parents)
    elsewhere = (
        f"set {ENV_HOME} to a folder you can write" if inside_data else "choose another place"
    )
    return refusal(path, error, elsewhere, action="use")
