"""The pain journal's entries: what a valid one is, and what a bad one is told."""

from __future__ import annotations

from datetime import datetime

import pytest

from posture.pain import PainEntry

T0 = datetime(2026, 11, 24, 9, 0).astimezone()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": 11}, "from 0 (no pain) to 10 (worst imaginable), got 11"),
        ({"level": -1}, "got -1"),
        ({"level": 5.5}, "whole number from 0 to 10, got 5.5"),
        ({"level": True}, "whole number"),
        ({"where": "knee"}, "one of upper-back, neck, shoulders, lower-back, got 'knee'"),
        ({"feels": "x" * 201}, "at most 200 characters (got 201)"),
        ({"feels": "dull\nsharp"}, "one line"),
        ({"note": "x" * 2001}, "at most 2000 characters, got 2001"),
    ],
)
def test_bad_pain_entries_say_what_is_wrong(kwargs, message):
    values = {"at": T0, "level": 3, **kwargs}
    with pytest.raises(ValueError, match="pain") as error:
        PainEntry(**values)
    assert message in str(error.value)
