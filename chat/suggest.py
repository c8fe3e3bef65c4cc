""" "Did you mean …?" for words a user mistyped: verbs, networks, sequencer ids, alert rules, durations.

Pure functions over the names the caller knows. Matching ignores case and separators (`sim1` finds
`sim-1`, `Multiple-Active` finds `multiple_active`), then takes the one name the word begins
(`start` → `start-sequencer`), then falls back to difflib's similarity ratio, so one slip of the
finger (`pasue`, `stauts`) still finds the word while an unrelated one finds nothing: a wrong guess
is worse than no guess. Numbers are never corrected (`seq-9` does not suggest `seq-1`): in a
sequencer or network id a different number names a different machine, not a typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# difflib's ratio from which a word counts as a slip of the finger: `pasue`/`pause` is 0.8 and
# `stauts`/`status` 0.83, while `start`/`status` is 0.73 and `help`/`pause` 0.22.
CUTOFF = 0.75
# A prefix shorter than this (`s`, `st`) says too little to pick one name.
MIN_PREFIX = 3

_SEPARATORS = re.compile(r"[-_.:\s]")
_DIGITS = re.compile(r"\d+")

# Unit spellings people type, mapped to the one letter our duration grammar reads.
_UNITS = {
    "d": ("d", "day", "days"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "s": ("s", "sec", "secs", "second", "seconds"),
}
_UNIT_OF = {spelling: unit for unit, spellings in _UNITS.items() for spelling in spellings}
_SPAN_WORD = re.compile(r"^(\d+)\s*([a-z]+)$")
_FRACTION = re.compile(r"^(\d+)[.,](\d+)\s*([a-z]+)$")


def _folded(word: str) -> str:
    return _SEPARATORS.sub("", word.lower())


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one choice `word` most likely meant, or None when none is close (or `word` is one)."""
    options = [c for c in dict.fromkeys(choices) if c]
    if not word or word in options:
        return None
    folded = _folded(word)
    same = [c for c in options if _folded(c) == folded]
    if same:
        return same[0]
    numbers = _DIGITS.findall(folded)
    by_folded = {f: c for c in options if _DIGITS.findall(f := _folded(c)) == numbers}
    if len(folded) >= MIN_PREFIX:
        starting = [c for f, c in by_folded.items() if f.startswith(folded)]
        if len(starting) == 1:
            return starting[0]
    found = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=CUTOFF)
    return by_folded[found[0]] if found else None


def hint(word: str, choices: Iterable[str]) -> str:
    """` — did you mean `x`?` for a close choice, else "" (to end a sentence naming `word`)."""
    match = closest(word, choices)
    return f" — did you mean `{match}`?" if match is not None else ""


def unknown(what: str, word: str, choices: Iterable[str]) -> str:
    """`Unknown network `sim1` — did you mean `sim-1`?` or `Unknown network `x`.`: a whole sentence."""
    guess = hint(word, choices)
    return f"Unknown {what} `{word}`{guess}" if guess else f"Unknown {what} `{word}`."


def closest_duration(word: str, keywords: Iterable[str] = ()) -> str | None:
    """The duration `word` most likely meant in our grammar (`30m`, `2h`, `1h30m`, `90s`, `1d`), or one
    of `keywords` (e.g. `until-resolved`) it is close to; None when there is no good guess."""
    lowered = word.strip().lower()
    keyword = closest(lowered, keywords)
    if keyword is not None:
        return keyword
    if lowered.isdigit() and int(lowered) > 0:
        # A bare number is most often minutes ("silence for 30").
        return f"{int(lowered)}m"
    match = _SPAN_WORD.match(lowered)
    if match is not None and match.group(2) in _UNIT_OF:
        return f"{int(match.group(1))}{_UNIT_OF[match.group(2)]}"
    match = _FRACTION.match(lowered)
    if match is not None and match.group(3) in _UNIT_OF:
        return _fraction(match.group(1), match.group(2), _UNIT_OF[match.group(3)])
    return None


def _fraction(whole: str, part: str, unit: str) -> str | None:
    """`1.5h` as `1h30m`: our grammar has no decimals, so spell it in the next smaller unit."""
    smaller = {"d": ("h", 24), "h": ("m", 60), "m": ("s", 60)}.get(unit)
    if smaller is None:
        return None
    small_unit, per = smaller
    extra = round(float(f"0.{part}") * per)
    if extra == 0:
        return f"{int(whole)}{unit}"
    if extra >= per:
        return f"{int(whole) + 1}{unit}"
    return f"{int(whole)}{unit}{extra}{small_unit}" if int(whole) else f"{extra}{small_unit}"
