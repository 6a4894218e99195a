"""The judging screen's keys, and how they are explained: the footer (fitted to the width) and the help screen.

One table (``JUDGE_KEYS``) drives the bindings, the footer, the help and the ids that ``[annotate.keys]`` remaps,
so a key cannot be explained in one place and bound differently in another. What the help says about blinding and
criteria follows the settings in force: it must never promise that names are revealed when they are not.

The footer drops keys when the terminal is too narrow to show them all (Textual's footer cuts the row off at the
right edge, which at 80 columns took Quit). ``footer_fit`` keeps the votes, Help and Quit always, and hides the
keys an annotator reaches for least first; the help screen lists every key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len

# (key, action, footer text, binding id, show in footer, help note). Ids are the names used in [annotate.keys].
# Notes stay within 44 cells, so that the help is one line per key at 80 columns.
JUDGE_KEYS: list[tuple[str, str, str, str, bool, str]] = [
    ("1", "vote('left')", "Left", "vote_left", True, "left is better; saved before the next pair"),
    ("2", "vote('right')", "Right", "vote_right", True, "right is better"),
    ("3", "vote('tie')", "Tie", "vote_tie", True, "counts as half a win each"),
    ("4", "vote('both_bad')", "Both bad", "vote_both_bad", True, "a tie in rankings, labelled both bad"),
    ("u", "undo", "Undo", "undo", True, "delete your last vote and judge it again"),
    ("s", "skip", "Skip", "skip", True, "you will not see this pair again"),
    ("f", "flag", "Flag", "flag", True, "mark the pair for the lead, with a reason"),
    ("r", "rationale", "Rationale", "rationale", True, "a note saved with your next vote"),
    ("c", "criteria", "Criteria", "criteria", True, "per-criterion verdicts, saved with your vote"),
    ("m", "toggle_markdown", "Markdown/raw", "toggle_markdown", False, "render markdown and code, or raw text"),
    ("y", "toggle_sync", "Sync scroll", "toggle_sync", False, "a scrolled answer moves the other one too"),
    ("d", "toggle_diff", "Diff", "toggle_diff", False, "highlight the words that differ"),
    ("e", "show_more", "Show more", "show_more", False, "show more of a very long answer"),
    ("question_mark", "help", "Help", "help", True, "this screen"),
    ("q", "quit", "Quit", "quit", True, "your place is kept; you resume here"),
]

# Moving around (fixed keys, not remappable): help rows only.
NAV_HELP: list[tuple[str, str, str]] = [
    ("tab", "Next pane", "prompt → left → right (▶); shift+tab: back"),
    ("↑↓ pgup pgdn", "Scroll", "the ▶ pane, else both answers; home, end"),
    ("esc", "No pane", "the keys scroll both answers again"),
]

# Never hidden from the footer: without them the annotator can neither judge nor leave nor learn the rest.
FOOTER_ALWAYS = frozenset({"vote_left", "vote_right", "vote_tie", "vote_both_bad", "help", "quit"})
# Hidden first when the footer is too narrow (the help screen still lists them).
FOOTER_DROP_ORDER = ("flag", "rationale", "criteria", "skip", "undo")


def footer_width(items: Iterable[tuple[str, str]], *, compact: bool) -> int:
    """Cells Textual's ``Footer`` needs for these (key shown, description) items: " k Desc " each, or, compact,
    "k Desc" and a one-cell gap (its stylesheet: key padding 0 1 / description padding 0 1 0 0; compact: key
    padding 0, description padding 0 0 0 1, margin-right 1)."""
    return sum(cell_len(key) + cell_len(text) + (2 if compact else 3) for key, text in items)


def footer_fit(width: int, items: Sequence[tuple[str, str, str]]) -> tuple[bool, frozenset[str]]:
    """For a footer ``width`` cells wide showing ``items`` (binding id, key shown, description) in order:
    whether to draw it compact, and which binding ids to hide so that the rest fits."""
    if footer_width(((k, t) for _b, k, t in items), compact=False) <= width:
        return False, frozenset()
    hidden: set[str] = set()
    for bid in FOOTER_DROP_ORDER:
        if footer_width(((k, t) for b, k, t in items if b not in hidden), compact=True) <= width:
            break
        hidden.add(bid)
    return True, frozenset(hidden)


def criteria_note(criteria: Sequence[str]) -> str:
    if criteria:
        return "per-criterion verdicts, saved with your vote"
    return "none set up ([annotate] criteria)"


def undo_note(reveal_after_vote: bool) -> str:
    if reveal_after_vote:
        return "withdraw your last vote (its names were shown)"
    return "delete your last vote and judge it again"


def criteria_missing_message(key: str) -> str:
    return (f"No criteria are set up, so {key} has nothing to ask. A lead adds them to the config file, e.g.\n"
            "[annotate]\ncriteria = [\"helpfulness\", \"factuality\"]\n"
            "and starts the app with sbs --config FILE annotate (or SBS_CONFIG=FILE).")


def blinding_note(reveal_after_vote: bool, undo_key: str) -> str:
    """What the help says about sides and model names: true to ``[annotate] reveal_after_vote``."""
    if reveal_after_vote:
        names = ("Model names are hidden until you vote, then shown for a moment ([annotate] reveal_after_vote "
                 f"is on); {undo_key} then withdraws a vote rather than showing its pair again.")
    else:
        names = "Model names are never shown here, not even after you vote."
    return (f"Sides are drawn at random for every pair. {names} Every vote is saved before the next pair "
            "appears; quitting resumes where you stopped.")
