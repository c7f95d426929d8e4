"""The pain journal: upper-back pain written down as it happens, for a clinician to read later.

An entry is a moment, a level from 0 to 10, where it hurts and, in a few words, how
it feels. `posture.store` keeps the entries (`add_pain`, `pain_entries`); the report
shows them beside the posture of the same day. Entries are stored as typed; what is
shown of them goes through `printable`, so a note never sends control codes (a
terminal escape sequence, say) to a terminal.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from posture.records import check_aware

PAIN_LOCATIONS = ("upper-back", "neck", "shoulders", "lower-back")
PAIN_FEELS_MAX = 200
PAIN_NOTE_MAX = 2000


@dataclass(frozen=True)
class PainEntry:
    """One pain journal entry, written down as it happens for a clinician to read later."""

    at: datetime
    level: int  # 0 no pain ... 10 worst imaginable
    where: str = "upper-back"
    feels: str = ""  # a few words: "dull, aching", "sharp when turning"
    note: str = ""

    def __post_init__(self) -> None:
        check_aware(self.at)
        if isinstance(self.level, bool) or not isinstance(self.level, int):
            raise ValueError(f"pain level must be a whole number from 0 to 10, got {self.level!r}")
        if not 0 <= self.level <= 10:
            raise ValueError(
                f"pain level must be from 0 (no pain) to 10 (worst imaginable), got {self.level}"
            )
        if self.where not in PAIN_LOCATIONS:
            raise ValueError(
                f"pain location must be one of {', '.join(PAIN_LOCATIONS)}, got {self.where!r}"
            )
        if len(self.feels) > PAIN_FEELS_MAX or "\n" in self.feels:
            raise ValueError(
                f"how the pain feels must be one line of at most {PAIN_FEELS_MAX} characters "
                f"(got {len(self.feels)}): put the rest in the note"
            )
        if len(self.note) > PAIN_NOTE_MAX:
            raise ValueError(
                f"pain note must be at most {PAIN_NOTE_MAX} characters, got {len(self.note)}"
            )


# Characters that reorder the text around them (a note could make a line read
# backwards): shown as codes, like control characters.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def printable(text: str) -> str:
    """`text` with control characters made visible (ESC shows as the four characters
    `\\x1b`), line breaks and tabs kept: what a note typed with stray terminal codes
    shows as."""
    return "".join(
        _visible(char)
        if char in _BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in "\n\t")
        else char
        for char in text
    )


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
