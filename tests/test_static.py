"""Lint and types as tests, so CI enforces them: ruff on everything, mypy strict on the
pure modules (configured in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff not installed (pip install '.[test]')"
)
def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy not installed (pip install '.[test]')"
)
def test_mypy_strict_on_the_pure_modules():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_history_and_report_load_words_not_the_scorer():
    """`store`, `history` and `report` need the verdict names only: opening the
    history must not load numpy, the scorer or the calibration package."""
    probe = (
        "import sys, posture.store, posture.history, posture.report, posture.records; "
        "print(sorted(m for m in ('numpy', 'posture.scoring', 'calibration') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
