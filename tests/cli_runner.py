"""Run `posture` in-process through its real entry point, `posture.cli.main`, as the
console script does, and keep what it printed and the exit code."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

from posture.cli import main


@dataclass(frozen=True)
class Outcome:
    """What one run of `posture` left: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def exit_status(code: object) -> int:
    """The process exit status `sys.exit(code)` gives: None is 0, a message 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_posture(args: Sequence[str], stdin: str = "") -> Outcome:
    """`posture ARGS` with `stdin` as its input (empty: a prompt reads end-of-file)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), _stdin(stdin):
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_status(exit_.code)
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_one_error_line(outcome: Outcome, code: int, *fragments: str) -> str:
    """A failure as the README promises: the exit code, and one `posture: error:` line
    on stderr holding every fragment. Returns that line."""
    assert outcome.code == code, outcome
    assert len(outcome.err_lines) == 1, outcome.err
    line = outcome.err_lines[0]
    assert line.startswith("posture: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@contextmanager
def _stdin(text: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(text))
        yield
