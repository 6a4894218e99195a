"""Whose votes count — one rule for every surface: ``sbs rank``, ``export rankings``, ``agreement``, ``funnel``,
``report``, the review app and its plots.

Why one rule: judge votes and human votes answer different questions (a judge stands in for people only where it
agrees with them). When both kinds voted, a ranking that counts everyone and a funnel that counts the humans
contradict each other on the same database, and a reader cannot tell why. So ``--voters``:

* ``auto`` (the default) — the humans' votes when the database also holds judge votes, else everyone's;
* ``humans`` / ``judges`` / ``all`` — as named.

``--annotator NAME`` narrows further (within the chosen kind); a name with no votes is an input error that lists
the annotators that have votes, and so is a choice that leaves no votes (``--voters judges`` without judges).
Every result states the resolved ``voters`` and the number of ``votes`` it counted.

Standard library only: the commands import :data:`VOTERS` for their ``--help``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sbs_tui.errors import InputError

VOTERS = ("auto", "humans", "judges", "all")
VOTERS_HELP = ("Whose votes count: auto = the humans' when the database also has an LLM judge's votes, else "
               "everyone's; humans, judges or all.")


@dataclass(frozen=True)
class VoterScope:
    """The resolved voters rule: what it is called and which annotators the store filters on."""

    voters: str  # 'humans', 'judges' or 'all' — never 'auto'
    annotators: tuple[str, ...] | None  # None: every annotator's votes

    @property
    def names(self) -> list[str] | None:
        """The annotators as the store's vote queries take them."""
        return list(self.annotators) if self.annotators is not None else None


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "") if names else "none"


def resolve_voters(kinds: Mapping[str, str], voters: str = "auto",
                   annotators: Sequence[str] | None = None) -> VoterScope:
    """The voters rule over ``kinds`` (annotator → 'human' | 'judge', for annotators with votes:
    ``store.votes.annotator_kinds()``). Raises :class:`InputError` naming the option when ``annotators`` names
    someone without votes or the choice leaves nobody."""
    if voters not in VOTERS:
        raise InputError(f"must be one of {', '.join(VOTERS)}", field="--voters")
    humans = [n for n, k in kinds.items() if k != "judge"]
    judges = [n for n, k in kinds.items() if k == "judge"]
    if annotators:
        unknown = [a for a in dict.fromkeys(annotators) if a not in kinds]
        if unknown:
            raise InputError(f"no votes by {_listed(unknown)}; annotators with votes: {_listed(list(kinds))}",
                             field="--annotator")
        pool = list(dict.fromkeys(annotators))
        if voters in ("humans", "judges"):
            keep = humans if voters == "humans" else judges
            chosen = [a for a in pool if a in keep]
            if not chosen:
                raise InputError(f"none of {_listed(pool)} is among the {voters} (--voters {voters}); "
                                 f"{voters} with votes: {_listed(keep)}", field="--annotator")
            return VoterScope(voters, tuple(chosen))
        named_kinds = {kinds[a] == "judge" for a in pool}
        label = "all" if len(named_kinds) > 1 else ("judges" if named_kinds == {True} else "humans")
        return VoterScope(label, tuple(pool))
    if voters == "auto":
        voters = "humans" if humans and judges else "all"
    if voters == "all":
        return VoterScope("all", None)
    keep = humans if voters == "humans" else judges
    if not keep:
        raise InputError(f"no {voters} have votes in this database; annotators with votes: "
                         f"{_listed(list(kinds))}", field="--voters")
    return VoterScope(voters, tuple(keep))


def described(voters: str, votes: int) -> str:
    """How a table or a title names what it counted: "49 votes by humans"."""
    who = {"humans": "humans", "judges": "LLM judges", "all": "all annotators"}.get(voters, voters)
    return f"{votes:,} vote{'s' if votes != 1 else ''} by {who}"
