"""The README's examples run as written after its quick start.

The quick start leaves `posture` in `.venv/bin`, not on the PATH: every example must
type it so. The examples that need no camera run here, in the README's order, as real
processes from the repository folder, with a temporary data folder, config file and
temp folder (where `posture demo` keeps its files).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SCRIPT = ".venv/bin/posture"
# Examples that need what a test machine lacks.
NEEDS_A_CAMERA = ("monitor", "calibrate --source 0")


def shell_blocks(text: str) -> list[str]:
    """The ```sh code blocks of a Markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands(text: str) -> list[list[str]]:
    """Every command of the sh blocks, split into words; `a && b` gives two."""
    found: list[list[str]] = []
    for block in shell_blocks(text):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()  # a comment after the command
            for part in filter(None, (p.strip() for p in line.split("&&"))):
                found.append(shlex.split(part))
    return found


def posture_examples(text: str) -> list[list[str]]:
    """The README's `posture` commands, without the script's path."""
    examples = []
    for words in commands(text):
        if words and words[0] == SCRIPT:
            arguments = words[1:]
            if not " ".join(arguments).startswith(NEEDS_A_CAMERA):
                examples.append(arguments)
    return examples


def test_the_readme_never_types_a_bare_posture_in_an_example() -> None:
    """`posture` is not on the PATH after the quick start: `.venv/bin/posture` is."""
    words = commands(README.read_text(encoding="utf-8"))
    assert words, "the README has no sh examples"
    assert [w for w in words if w and w[0] == "posture"] == []


def test_the_readme_examples_run_as_written(tmp_path: Path) -> None:
    examples = posture_examples(README.read_text(encoding="utf-8"))
    assert ["demo"] in examples and len(examples) >= 4, examples
    script = Path(sys.executable).parent / "posture"
    if not script.exists():
        pytest.skip(f"no console script at {script}: install the package (pip install -e .)")
    env = {
        **os.environ,
        "POSTURE_HOME": str(tmp_path / "home"),
        "POSTURE_CONFIG": str(tmp_path / "config.toml"),
        "TMPDIR": str(tmp_path),
    }
    for arguments in examples:
        result = subprocess.run(
            [str(script), *arguments],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        shown = f"{SCRIPT} {shlex.join(arguments)}"
        assert result.returncode == 0, f"{shown}\n{result.stdout}\n{result.stderr}"
        assert result.stdout.strip(), f"{shown} printed nothing"
        assert "error" not in result.stderr.lower(), f"{shown}\n{result.stderr}"
    assert (tmp_path / "home" / "profiles" / "default.json").is_file()
