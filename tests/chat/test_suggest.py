""" "Did you mean": the guesses a user sees after a slip, and the words that get no guess."""

from __future__ import annotations

import pytest

from chat.suggest import closest, closest_duration, hint, unknown
from chat.text import escape, parse_span
from commands.help import CATALOGUE
from commands.router import unknown_verb_text

VERBS = list(CATALOGUE)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("pasue", "pause"),
        ("stauts", "status"),
        ("reqests", "requests"),
        ("silense", "silence"),
        ("addvoter", "add-voter"),
        ("Transfer_Leader", "transfer-leader"),
        ("start", "start-sequencer"),
        ("timelin", "timeline"),
    ],
)
def test_a_mistyped_verb_finds_the_verb(typed: str, meant: str) -> None:
    assert closest(typed, VERBS) == meant


@pytest.mark.parametrize("typed", ["frobnicate", "st", "add", "help", ""])
def test_no_guess_for_unrelated_ambiguous_or_correct_words(typed: str) -> None:
    # `add` begins both add-voter and add-nonvoter; `help` is already a verb.
    assert closest(typed, VERBS) is None


def test_ids_are_matched_without_separators_but_numbers_are_never_corrected() -> None:
    sequencers = ["seq-0", "seq-1", "seq-2"]
    assert closest("sim1", ["sim-1", "sim-2"]) == "sim-1"
    assert closest("SEQ_1", sequencers) == "seq-1"
    # A different number names a different machine: guessing one could aim an operation at it.
    assert closest("seq-9", sequencers) is None
    assert closest("sim-3", ["sim-1", "sim-2"]) is None
    assert closest("seq-10", sequencers) is None


def test_sentences_end_with_the_guess_or_a_full_stop() -> None:
    assert unknown("network", "sim1", ["sim-1"]) == "Unknown network `sim1` — did you mean `sim-1`?"
    assert unknown("network", "nope", ["sim-1"]) == "Unknown network `nope`."
    assert hint("nope", ["sim-1"]) == ""


def test_unknown_verb_text_names_the_verb_and_maps_synonyms() -> None:
    assert unknown_verb_text("pasue", VERBS) == (
        "Unknown command `pasue` — did you mean `pause`? `/conductor help` lists every command."
    )
    # difflib alone would answer `pause`, the opposite of what was meant.
    assert "did you mean `resume`?" in unknown_verb_text("unpause", VERBS)
    assert unknown_verb_text("frobnicate", VERBS) == (
        "Unknown command `frobnicate`. Try `/conductor help` for the list of commands."
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("30min", "30m"),
        ("2hours", "2h"),
        ("2 hrs", "2h"),
        ("1.5h", "1h30m"),
        ("0.5h", "30m"),
        ("1.5d", "1d12h"),
        ("30", "30m"),
        ("until-resolve", "until-resolved"),
        ("untill-resolved", "until-resolved"),
    ],
)
def test_a_malformed_duration_finds_the_duration_meant(typed: str, meant: str) -> None:
    assert closest_duration(typed, ["until-resolved"]) == meant
    # Every guess is itself accepted by the grammar the commands parse.
    assert meant == "until-resolved" or parse_span(meant) is not None


@pytest.mark.parametrize("typed", ["soon", "0", "1.5s", "later", "5 fortnights"])
def test_no_duration_guess_without_a_clear_meaning(typed: str) -> None:
    assert closest_duration(typed, ["until-resolved"]) is None


def test_parse_span_reads_the_one_duration_grammar() -> None:
    assert parse_span("1h30m") == 5400.0
    assert parse_span("1d") == 86400.0
    assert parse_span("90s") == 90.0
    assert parse_span("30min") is None
    assert parse_span("") is None


def test_escape_leaves_nothing_slack_would_act_on() -> None:
    raw = "err <!channel> <http://x.test|click> & <@U123ABC> <#C1>"
    assert (
        escape(raw) == "err &lt;!channel&gt; &lt;http://x.test|click&gt; &amp; &lt;@U123ABC&gt; &lt;#C1&gt;"
    )
    assert escape(raw, keep_user_mentions=True) == (
        "err &lt;!channel&gt; &lt;http://x.test|click&gt; &amp; <@U123ABC> &lt;#C1&gt;"
    )
    # A mention cannot be smuggled in around a link: only the exact `<@ID>` form comes back.
    assert escape("<@U1|x> <@U123|x>", keep_user_mentions=True) == "&lt;@U1|x&gt; &lt;@U123|x&gt;"
    # A channel named by id (a WrongChannel reply's "only accepted in <#C0OPS>") stays a link: it
    # cannot ping anyone either.
    assert escape("in <#C0OPS> & <#C0OPS|x>", keep_user_mentions=True) == "in <#C0OPS> &amp; &lt;#C0OPS|x&gt;"
