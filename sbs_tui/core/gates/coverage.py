"""What the safety gates did *not* check, as one sentence every surface shows the same way.

Why a module of its own: "passed" means nothing until it says against what. Each gated generation stores the
safety categories no enabled blocking gate checked in its language (``generations.unchecked``, see
:mod:`sbs_tui.core.gates.runner`); ``sbs gate``'s summary, the review app's gates tab, the funnel's first stage and
``sbs report`` all print the sentences built here — "threat, hate, self_harm not checked in en, ru (6,440
generations) — see docs/gates.md" — so no surface can say it differently or leave it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

#: Where a reader learns what each gate checks and how to add a real safety model.
SEE = "docs/gates.md"


@dataclass(frozen=True, slots=True)
class Unchecked:
    """Safety categories nobody checked, the languages where that happened, and in how many generations."""

    categories: tuple[str, ...]
    languages: tuple[str, ...]
    generations: int

    def sentence(self) -> str:
        langs = ", ".join(self.languages)
        return (f"{', '.join(self.categories)} not checked in {langs} "
                f"({self.generations:,} generation{'s' if self.generations != 1 else ''}) — see {SEE}")

    def as_dict(self) -> dict[str, Any]:
        return {"categories": list(self.categories), "languages": list(self.languages),
                "generations": self.generations}


def group(counts: Iterable[tuple[str | None, Iterable[str], int]]) -> list[Unchecked]:
    """(language, unchecked categories, generations) rows → one line per set of categories, with the languages
    where that set went unchecked (most generations first; a language without a name is ``und``)."""
    langs: dict[tuple[str, ...], dict[str, int]] = {}
    for language, categories, n in counts:
        key = tuple(categories)
        if not key or n <= 0:
            continue
        per = langs.setdefault(key, {})
        per[language or "und"] = per.get(language or "und", 0) + n
    lines = [Unchecked(key, tuple(sorted(per, key=lambda lang: (-per[lang], lang))), sum(per.values()))
             for key, per in langs.items()]
    return sorted(lines, key=lambda u: (-u.generations, u.categories))


def from_store(store: Store) -> list[Unchecked]:
    """The database's gated generations, as the gates last settled them."""
    return group((lang, cats.split(","), n) for lang, cats, n in store.gates.unchecked_counts())


def from_outcomes(outcomes: Iterable[Any]) -> list[Unchecked]:
    """Outcomes of one run (``sbs score``, ``sbs gate eval``): ``language`` and ``unchecked`` of each."""
    return group((o.language, o.unchecked, 1) for o in outcomes)


def sentences(lines: Iterable[Unchecked]) -> list[str]:
    return [line.sentence() for line in lines]
