"""Building the queue (``sbs queue build``): pairs per prompt, overlap, gold pairs, and active sampling's priorities.

Why its own module: building decides what exists to judge, once per build; serving one annotator
(:mod:`sbs_tui.core.queue.annotator`) only walks what was built. Options come typed from ``[queue]``
(:class:`~sbs_tui.core.settings.QueueSettings`), each default written once there.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from sbs_tui.core.queue.identity import IdentityDetector
from sbs_tui.core.settings import QueueSettings
from sbs_tui.core.store import Store
from sbs_tui.core.store.queue import HeldBack

if TYPE_CHECKING:  # numpy loads when active sampling runs, not when the queue module is imported
    import numpy as np
    from numpy.typing import NDArray


INT_LIMIT = 2**63  # SQLite's INTEGER: a larger option would fail only when first stored


@dataclass(frozen=True, slots=True)
class BuildOptions(QueueSettings):
    """``[queue]``'s options (each declared, with its default and range, once: :class:`QueueSettings`) plus the
    identity detector they configure. Ranges are checked when it is made; :meth:`validate` adds the rules between
    options."""

    identity: IdentityDetector = field(default_factory=IdentityDetector.default)

    @classmethod
    def resolve(cls, given: dict[str, Any], stored: dict[str, Any], queue: QueueSettings, *,
                hold_back: bool = True) -> BuildOptions:
        """The command line (``given``; None = not given) over what the queue was last built with (``stored``)
        over ``[queue]`` and its defaults (``queue``), then :meth:`validate`."""
        stored = {("cap" if k == "default_cap" else k): v for k, v in stored.items()}
        values = {f.name: getattr(queue, f.name) for f in fields(QueueSettings)}
        values.update({k: v for k, v in stored.items() if k in values and v is not None})
        values.update({k: v for k, v in given.items() if v is not None})
        detector = IdentityDetector.from_settings(queue)
        if not hold_back:
            detector = IdentityDetector(detector.patterns, enabled=False)
        return cls(**values, identity=detector).validate()

    def validate(self) -> BuildOptions:
        """Raise one :class:`InputError` for a combination of options that cannot build a queue; returns ``self``."""
        from sbs_tui.errors import InputError

        for name in ("overlap", "seed", "cap", "max_pairs_per_prompt", "focus_top"):
            value = getattr(self, name)
            if value is not None and not -INT_LIMIT < value < INT_LIMIT:  # stored as SQLite's 64-bit INTEGER
                raise InputError(f"must be below {INT_LIMIT:,} (2**63), got {value}", field=name.replace("_", "-"))
        if self.gold_rate > 0 and not self.gold_from:
            raise InputError("gold pairs need known answers: give --gold-from ANNOTATOR", field="queue.gold_rate")
        return self


@dataclass(slots=True)
class BuildReport:
    new_pairs: int
    held_back: int
    gold: int
    summary: dict[str, int]
    held_back_examples: list[HeldBack]
    warnings: list[str] = field(default_factory=list)
    generations_blocked: int = 0  # blocked by the gates: never paired (the pair counts cannot show them)
    generations_held: int = 0  # held for a lead's review (a language no blocking gate reads): not paired either


def build_queue_from_settings(store: Store, given: dict[str, Any], queue: QueueSettings, *,
                              hold_back: bool = True) -> BuildReport:
    """``sbs queue build`` as one call: resolve the options (:meth:`BuildOptions.resolve`) and build."""
    options = BuildOptions.resolve(given, store.queue.config(), queue, hold_back=hold_back)
    report = build_queue(store, options)
    if options.gold_from and report.gold == 0 and options.gold_rate > 0:
        report.warnings.append(f"no confident votes by {options.gold_from!r} match a pair; no gold pairs")
    return report


def build_queue(store: Store, options: BuildOptions) -> BuildReport:
    """Create the pairs for every prompt (idempotent: re-running adds pairs for new generations only)."""
    options.validate()
    rng = random.Random(options.seed)
    names = store.model_names_by_id()
    existing = store.queue.generation_pairs()
    per_prompt = Counter(prompt_id for prompt_id, _a, _b in existing.values())
    rows: list[tuple[str, int, int, int, None, str | None, float, int]] = []
    held = 0
    for prompt_id, group in itertools.groupby(store.queue.generations(), key=lambda r: r[0]):
        gens = list(group)
        combos = [(a, b) for a, b in itertools.combinations(sorted(gens, key=lambda g: g[1]), 2)
                  if a[2] != b[2] and (a[1], b[1]) not in existing]
        if not combos:
            continue  # a re-run: nothing new for this prompt (and no output to scan again)
        if options.max_pairs_per_prompt is not None:
            room = max(0, options.max_pairs_per_prompt - per_prompt[prompt_id])
            if len(combos) > room:
                combos = rng.sample(combos, room)
        leaks: dict[int, str | None] = {}
        for _, gid, mid, output in {g for combo in combos for g in combo}:
            leaks[gid] = options.identity.reason(output, names[mid])
        for (_, ga, ma, _), (_, gb, mb, _) in combos:
            reason = leaks[ga] or leaks[gb]
            if reason:
                side = "A" if leaks[ga] else "B"
                reason = f"{side} {reason}"
                held += 1
            rows.append((prompt_id, ga, gb, 0, None, reason, rng.random(), options.overlap))
    with store.transaction():
        new = store.queue.insert_pairs(rows)
        store.queue.set_overlap(options.overlap)
        gold = _mark_gold(store, options, rng) if options.gold_from else 0
        store.queue.set_config({
            "overlap": options.overlap, "strategy": options.strategy, "seed": options.seed,
            "gold_rate": options.gold_rate if store.queue.summary()["gold"] else 0.0,
            "gold_from": options.gold_from, "default_cap": options.cap,
            "max_pairs_per_prompt": options.max_pairs_per_prompt, "focus_top": options.focus_top,
        })
        if options.strategy == "active":
            refresh_active_priorities(store, seed=options.seed, focus_top=options.focus_top)
    status = store.gates.status_counts().values()
    return BuildReport(new, held, gold, store.queue.summary(), store.queue.held_back()[:10],
                       generations_blocked=sum(c["blocked"] for c in status),
                       generations_held=sum(c["held"] for c in status))


def _mark_gold(store: Store, options: BuildOptions, rng: random.Random) -> int:
    """Gold pairs: pairs on which a trusted annotator (e.g. an imported GPT-4 judge) gave a clear verdict.

    A weighted vote counts only when its weight is at least 0.9 (a confident judgement). Enough of them are
    turned into gold to serve ``gold_rate`` of an annotator's pairs for a long session; they leave the normal pool.
    """
    verdicts: dict[tuple[str, int, int], str] = {}
    for v in store.votes.by_annotator(options.gold_from or ""):
        if v.winner in ("model_a", "model_b") and v.weight < 0.9:
            continue
        verdicts[(v.prompt_id, v.model_a_id, v.model_b_id)] = v.winner
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "both_bad": "both_bad"}
    candidates: list[tuple[str, int]] = []
    for p in store.queue.pairs():
        if (p.prompt_id, p.model_a_id, p.model_b_id) in verdicts:
            candidates.append((verdicts[(p.prompt_id, p.model_a_id, p.model_b_id)], p.pair_id))
        elif (p.prompt_id, p.model_b_id, p.model_a_id) in verdicts:
            candidates.append((flip[verdicts[(p.prompt_id, p.model_b_id, p.model_a_id)]], p.pair_id))
    if not candidates or options.gold_rate <= 0:
        return 0
    wanted = max(20, math.ceil(len(store.queue.pairs()) * options.gold_rate))
    chosen = rng.sample(candidates, min(wanted, len(candidates)))
    store.queue.mark_gold_pairs(chosen)
    return len(chosen)


# ---------------------------------------------------------------------------------------------------------------
# Active sampling
# ---------------------------------------------------------------------------------------------------------------

def fit_bradley_terry(n_models: int, outcomes: Sequence[tuple[int, int, float, int]], *, prior: float = 1.0
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """MAP Bradley-Terry strengths (natural-log odds, centred) with a Gaussian prior of precision ``prior``, and
    their covariance (inverse observed Fisher information), from rows (index_a, index_b, score_b, count).

    The one BT fitter (:func:`sbs_tui.core.ranking.bt.fit_bt`) with active sampling's own regularisation: a
    prior of precision 1 (sd 1 logit), much stronger than ``sbs rank``'s fallback, because here models without
    votes must come out *uncertain* (wide covariance) rather than undefined, and early in a campaign every pair
    should look about equally interesting."""
    import numpy as np

    from sbs_tui.core.ranking.bt import fit_bt
    from sbs_tui.core.ranking.outcomes import Outcomes

    names = [str(k) for k in range(n_models)]
    fit = fit_bt(Outcomes.from_rows(names, [(a, b, s, c) for a, b, s, c in outcomes if c]).pair_stats(),
                 n_models, prior=prior)
    return fit.theta, np.linalg.inv(fit.hessian)


def active_priorities(n_models: int, outcomes: Sequence[tuple[int, int, float, int]],
                      *, focus_top: int | None = None, prior: float = 1.0) -> dict[tuple[int, int], float]:
    """How much one more vote on each model pair (i < j) is worth for recovering the ranking; higher first.

    Chatbot Arena (Chiang et al. 2024, §5) samples a pair with probability ∝ sqrt(Σ_ab/n_ab) − sqrt(Σ_ab/(n_ab+1)):
    how much one more vote narrows the pair's interval, which narrows every interval evenly. Recovering an *order*
    only needs the pairs whose order is still in doubt, so that term is weighted here by how much the pair's order
    matters:

    * ``doubt`` — the posterior probability that the two models' Bradley-Terry strengths are in the wrong order
      (normal approximation, with the full covariance so indirect comparisons count), times — with
      ``focus_top=k`` — the smaller of the two models' probabilities of being in the top k+1 (the order of the top
      k and who is k-th against (k+1)-th); squared, so sampling concentrates on the few pairs that decide the order;
    * ``shrink`` — Arena's term, relative: the fraction by which one more vote on the pair narrows the interval of
      their difference, 1 − 1/sqrt(1 + w·Var(θ_i − θ_j)) with w = p(1 − p) the information in one vote (a
      rank-one Fisher update). A pair that has already had many votes gains little from another, so a close pair
      stops hoarding votes once its interval is narrow, and the votes go to pairs that still decide something.

    bench/bench_active.py measures the policy (with ``doubt`` alone, i.e. without ``shrink``, the ratio of mean
    votes needed was worse on every trial set tried; see docs/annotate.md). Strengths come from a MAP fit with a
    weak Gaussian prior (``prior``), so models without votes are uncertain, not infinite, and every pair starts
    equally interesting.
    """
    import numpy as np
    from scipy.special import ndtr  # the standard normal CDF, vectorised

    theta, cov = fit_bradley_terry(n_models, outcomes, prior=prior)
    d = theta[:, None] - theta[None, :]
    var_diff = np.maximum(np.add.outer(np.diag(cov), np.diag(cov)) - 2 * cov, 1e-12)
    sd = np.sqrt(var_diff)
    if focus_top is not None and focus_top < n_models:
        # P(model i is in the top k+1): the number of models above it is a sum of Bernoullis
        # (above[i, j] = P(model j is stronger than model i)), approximated by a normal.
        above = ndtr(-d / sd)
        np.fill_diagonal(above, 0.0)
        expected_above = above.sum(1)
        spread = np.sqrt(np.maximum((above * (1 - above)).sum(1), 0.25))
        in_top = ndtr((focus_top + 0.5 - expected_above) / spread)
    else:
        in_top = np.ones(n_models)
    swapped = ndtr(-np.abs(d) / sd)
    doubt = (swapped * np.minimum.outer(in_top, in_top)) ** 2
    p = 1.0 / (1.0 + np.exp(-d))
    shrink = 1.0 - 1.0 / np.sqrt(1.0 + p * (1.0 - p) * var_diff)
    value = doubt * shrink
    return {(i, j): float(value[i, j]) for i in range(n_models) for j in range(i + 1, n_models)}


def refresh_active_priorities(store: Store, *, seed: int = 0, focus_top: int | None = None,
                              chunk: int | None = None) -> int:
    """Recompute every pair's priority from the votes so far (``queue build --strategy active``; re-run it as
    votes come in).

    Annotators walk the pairs in descending priority, so the priorities encode an *order* in which model pairs
    come up in proportion to their value (stride scheduling): the k-th prompt of model pair (i, j) gets
    priority −(k + u) / w_ij, with w_ij from :func:`active_priorities`, u a seeded jitter, and prompts with fewer
    votes first. A walk down this order is what sampling model pairs ∝ w_ij without replacement would give —
    the policy bench/bench_active.py measures — rather than exhausting the single best model pair first.
    """
    names = store.model_names_by_id()
    index = {mid: i for i, mid in enumerate(sorted(names))}
    vote_names, outcomes = store.pair_counts.outcomes()  # the votes' kept counts (the same cells)
    by_name = {name: index[mid] for mid, name in names.items()}
    mapped = [(by_name[vote_names[a]], by_name[vote_names[b]], s, c) for a, b, s, c in outcomes]
    weights = active_priorities(len(index), mapped, focus_top=focus_top)
    floor = max(max(weights.values(), default=1.0) * 1e-9, 1e-300)
    rng = random.Random(seed)
    groups: dict[tuple[int, int], list[tuple[int, float, int]]] = {}
    for p in store.queue.pairs():
        ia, ib = index[p.model_a_id], index[p.model_b_id]
        groups.setdefault((min(ia, ib), max(ia, ib)), []).append((p.votes, rng.random(), p.pair_id))
    rows = []
    for key, members in groups.items():
        members.sort()
        weight = max(weights[key], floor)
        for k, (_votes, jitter, pair_id) in enumerate(members):
            rows.append((-(k + jitter) / weight, pair_id))
    if chunk is None:
        store.queue.set_priorities(rows)
    else:
        # From a background refresh: short write transactions, so an annotator's vote never waits long for the lock.
        import time

        for start in range(0, len(rows), chunk):
            with store.transaction():
                store.queue.set_priorities(rows[start:start + chunk])
            time.sleep(0.01)  # let the app's thread take the lock (and the GIL) between chunks
    return len(rows)
