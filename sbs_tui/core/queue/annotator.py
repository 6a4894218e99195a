"""Pair building and assignment: what an annotator judges next, and with which answer on the left.

Why this lives in the core (no Textual): ``sbs queue build`` on the command line, the annotator app and the
benchmarks share it, and every rule that protects the data is here, once:

* A pair is two generations of *different* models for the same prompt, stored in canonical order
  (``gen_a_id < gen_b_id``); ``model_a`` of the vote is always the model of ``gen_a``.
* Gates: a pair is served only when both generations passed every blocking gate (``settings.gating.required``)
  or, with gating off, when neither is blocked. Pairs are built for pending generations too, so they appear in
  the queue the moment a background gate run passes them.
* Blinding: the side shown on the left is a seeded draw per (annotator, pair), stored with the assignment and
  the vote. Outputs that give their model away (their own model name, identity phrases such as "I'm Claude",
  "As an AI developed by OpenAI", "Anthropic trained me", "(Claude here)") are held back from blind judging, as
  Chatbot Arena does; the text is normalised first (:func:`identity_text`), so zero-width characters, fullwidth
  letters and case cannot hide a leak.
* Assignment: an annotator is never given the same pair twice (also after a skip); a pair collects at most
  ``overlap`` votes; caps limit an annotator's total; gold (attention-check) pairs with a known winner are
  interleaved at ``gold_rate``; an unanswered pair is given back first when the annotator returns (resume).
* ``--strategy active`` orders pairs by how much their next vote is expected to reduce ranking uncertainty
  (see :func:`active_priorities`).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sbs_tui.core.settings import QUEUE_STRATEGIES as STRATEGIES
from sbs_tui.core.settings import QueueSettings
from sbs_tui.core.store import Store
from sbs_tui.core.store.queue import HeldBack

if TYPE_CHECKING:  # numpy loads when active sampling runs, not when the queue module is imported
    import numpy as np
    from numpy.typing import NDArray

INT_LIMIT = 2**63  # SQLite's INTEGER: a larger option would fail only when first stored
RESCAN_EVERY = 50  # see AnnotatorQueue._next_ordinary_pair

# Identity phrases seen in real model outputs (AlpacaEval: "I'm an AI assistant created by Anthropic",
# "As an AI developed by OpenAI", "I'm Claude, ..."). Case-insensitive regular expressions.
_MAKERS = (r"OpenAI|Anthropic|Google(?: DeepMind)?|DeepMind|Meta(?: AI)?|Mistral(?: AI)?|Alibaba(?: Cloud)?|"
           r"DeepSeek|Microsoft|LMSYS|Stanford|Nous Research|Cohere|xAI|Technology Innovation Institute|"
           r"TII|01\.AI|Zhipu|Baidu|Tencent|Amazon|NVIDIA|Hugging ?Face|Large Model Systems Organization")
_NAMES = (r"ChatGPT|GPT-?\d(?:\.\d)?(?:[- ]?turbo)?|Claude|Gemini|Gemma|Bard|LLaMA|Llama(?: ?\d)?|Mistral|Mixtral|"
          r"Qwen|Vicuna|Alpaca|Falcon|Grok|Phi(?:-\d)?|DeepSeek|Command ?R|OpenHermes|Zephyr|Yi|ERNIE|Copilot")
DEFAULT_IDENTITY_PATTERNS: tuple[str, ...] = (
    # "I'm an AI assistant created by Anthropic", "As a language model AI developed by OpenAI"
    rf"\b(?:I am|I'm|I’m|as)\s+(?:an?\s+)?(?:AI|artificial|large|language|assistant|chatbot|model|"
    rf"virtual|helpful|conversational)\b[^.\n]{{0,50}}?\b(?:created|developed|trained|made|built|designed|"
    rf"programmed)\s+by\s+(?:the\s+)?(?:team\s+at\s+)?(?:{_MAKERS})\b",
    # "I'm Claude", "I am ChatGPT", "my name is Gemma", "I'm Gemma, ..."
    rf"\b(?:I am|I'm|I’m|my name is|this is|call me)\s+(?:called\s+)?(?:{_NAMES})\b",
    # "As ChatGPT, I ..." / "As Claude, ..."
    rf"(?:^|[.!?]\s+)As\s+(?:{_NAMES})\s*,",
    rf"\b(?:an?|the)\s+(?:{_MAKERS})\s+(?:language\s+)?model\b",
    # "I was created by OpenAI", "I have been trained by the team at Anthropic"
    rf"\bI\s+(?:was|am|have\s+been|'ve\s+been)\s+(?:\w+\s+){{0,2}}?(?:created|developed|trained|made|built|"
    rf"designed|programmed)\s+by\s+(?:the\s+)?(?:team\s+at\s+)?(?:{_MAKERS})\b",
    # "Anthropic trained me", "OpenAI created me"
    rf"\b(?:{_MAKERS})\s+(?:\w+\s+)?(?:created|developed|trained|made|built|designed|programmed)\s+me\b",
    # "(Claude here)", "Claude here, ..." at the start of a line
    rf"(?:^|[(\[])\s*(?:{_NAMES})\s+here\b",
)

# Characters that change nothing a reader sees (zero-width spaces and joiners, soft hyphens, bidi controls, word
# joiners, BOM, variation selectors, tags): removed before matching, so "Cl\u200baude" is "claude".
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                        "\ufe00-\ufe0f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")


def identity_text(text: str) -> str:
    """Text as the identity hold-back reads it: NFKC (fullwidth "Ｃlaude" → "Claude", ligatures split),
    invisible characters removed, curly apostrophes straightened, case-folded. A leak hidden by any of these still
    reads as one to a person, so it must match."""
    if text.isascii():
        return text.lower()
    import unicodedata

    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return text.replace("\u2019", "'").replace("\u02bc", "'").casefold()

_KEYWORDS = re.compile(rf"\b(?:{_MAKERS}|{_NAMES})\b", re.IGNORECASE)

_GENERIC_TOKENS = {"chat", "instruct", "base", "turbo", "preview", "model", "it", "hf", "v", "sft", "dpo", "rlhf",
                   "mini", "large", "small", "medium", "pro", "ultra", "the", "and"}


@dataclass(frozen=True, slots=True)
class IdentityDetector:
    """Finds outputs that give away which model wrote them.

    Two signals: configured identity phrases (regular expressions), and the output naming *its own* model — the
    full model name (``claude-2``, ``gpt-3.5-turbo``) or a distinctive family token from it (``claude``, ``gemma``)
    followed by an identity verb ("I'm Gemma"). A bare mention of another model ("better than ChatGPT") is not a
    leak of one's own identity and is left alone unless a phrase pattern matches it.
    """

    patterns: tuple[re.Pattern[str], ...]
    enabled: bool = True
    # The built-in phrases all contain a maker or model name: outputs without any (most) skip them cheaply.
    keywords: re.Pattern[str] | None = None
    gated: int = 0  # the first ``gated`` patterns run only when ``keywords`` matches

    @classmethod
    def from_settings(cls, queue: QueueSettings) -> IdentityDetector:
        extra = queue.identity_patterns
        base = () if queue.replace_identity_patterns else DEFAULT_IDENTITY_PATTERNS
        try:
            compiled = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in (*base, *extra))
        except re.error as exc:
            from sbs_tui.errors import InputError

            raise InputError(f"invalid regular expression: {exc}", field="queue.identity_patterns") from exc
        return cls(compiled, enabled=queue.hold_back_identity, keywords=_KEYWORDS if base else None,
                   gated=len(base))

    @classmethod
    def default(cls) -> IdentityDetector:
        return cls.from_settings(QueueSettings())

    def reason(self, output: str, model_name: str, *, scan_chars: int = 20_000) -> str | None:
        """Why this output leaks its identity (a short reason for the lead), or None."""
        if not self.enabled:
            return None
        text = identity_text(output[:scan_chars])
        for name_re in _own_name_patterns(identity_text(model_name)):
            match = name_re.search(text)
            if match:
                return f"names its model: {match.group(0)[:60]!r}"
        skip = self.gated if self.keywords is not None and not self.keywords.search(text) else 0
        for pattern in self.patterns[skip:]:
            match = pattern.search(text)
            if match:
                return f"identity phrase: {match.group(0)[:60]!r}"
        return None


@lru_cache(maxsize=1024)
def _own_name_patterns(model_name: str) -> list[re.Pattern[str]]:
    pats = [re.compile(rf"(?<![\w-]){re.escape(model_name)}(?![\w-])", re.IGNORECASE)]
    tokens = [t for t in re.split(r"[^A-Za-z]+", model_name) if len(t) >= 4 and t.lower() not in _GENERIC_TOKENS]
    for token in tokens[:2]:
        pats.append(re.compile(rf"\b(?:I am|I'm|I’m|my name is|call me|as)\s+{re.escape(token)}\b", re.IGNORECASE))
    return pats


def side_for(seed: int, annotator: str, pair_id: int) -> str:
    """The side shown on the left: a seeded, reproducible coin per (annotator, pair)."""
    digest = hashlib.sha256(f"{seed}\x1f{annotator}\x1f{pair_id}".encode()).digest()
    return "model_a" if digest[0] & 1 == 0 else "model_b"


# ---------------------------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------------------------

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
    vote_names, outcomes = store.votes.outcomes()
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


# ---------------------------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Pair:
    """One pair as the judging screen needs it. ``left``/``right`` are what the annotator sees."""

    pair_id: int
    prompt_id: str
    prompt: str
    model_a: str
    model_b: str
    output_a: str
    output_b: str
    shown_left: str
    is_gold: bool = False
    gold_winner: str | None = None
    category: str | None = None

    @property
    def left(self) -> str:
        return self.output_a if self.shown_left == "model_a" else self.output_b

    @property
    def right(self) -> str:
        return self.output_b if self.shown_left == "model_a" else self.output_a

    @property
    def left_model(self) -> str:
        return self.model_a if self.shown_left == "model_a" else self.model_b

    @property
    def right_model(self) -> str:
        return self.model_b if self.shown_left == "model_a" else self.model_a

    def winner_for(self, choice: str) -> str:
        """Map what the annotator pressed ('left', 'right', 'tie', 'both_bad') to the vote's winner."""
        if choice == "left":
            return self.shown_left
        if choice == "right":
            return "model_b" if self.shown_left == "model_a" else "model_a"
        if choice in ("tie", "both_bad"):
            return choice
        raise ValueError(f"unknown choice {choice!r}")


def remaining(store: Store, annotator_id: int, *, min_gate_rank: int, cap: int | None,
              held: int | None = None, done: int | None = None) -> int:
    """Pairs still to do for one annotator — one rule for the annotator's header and the lead's Queue tab: the
    open pairs never claimed by them plus the ones they claimed and have not answered (the pair on screen, and any
    an undo left behind it), at most ``cap`` less the votes they cast in the queue."""
    if held is None:
        held = store.queue.count_held(annotator_id)
    n = store.queue.count_available(annotator_id, min_gate_rank=min_gate_rank) + held
    if cap is not None:
        if done is None:
            done = store.queue.done_count(annotator_id)
        n = min(n, max(0, int(cap) - done))
    return n


class AnnotatorQueue:
    """One annotator's view of the queue. Use on the thread that opened ``store``."""

    def __init__(self, store: Store, annotator: str, *, gating_required: bool = True,
                 cap: int | None = None, gold_rate: float | None = None, seed: int | None = None):
        self.store = store
        self.annotator = annotator
        # A first-time annotator is created on first use, not here: creating is a write, and an app starting
        # while someone else holds the write lock must show its "busy" screen and retry, not fail to start.
        self._annotator_id = store.annotator_id(annotator, create=False)
        config = store.queue.config()
        self.seed = int(config.get("seed", 0) if seed is None else seed)
        self.gold_rate = float(config.get("gold_rate", 0.0) if gold_rate is None else gold_rate)
        stored_cap = store.queue.cap(self._annotator_id) if self._annotator_id is not None else None
        self.cap = cap if cap is not None else stored_cap if stored_cap is not None else config.get("default_cap")
        self.min_gate_rank = 2 if gating_required else 1
        self._cursor: float | None = None
        self._since_rescan = RESCAN_EVERY

    @property
    def annotator_id(self) -> int:
        """This annotator's id, creating them on first use (a write: it may raise "database is locked")."""
        if self._annotator_id is None:
            annotator_id = self.store.annotator_id(self.annotator)
            assert annotator_id is not None  # create=True (the default) always returns an id
            self._annotator_id = annotator_id
        return self._annotator_id

    def progress(self) -> dict[str, int]:
        return self.store.queue.progress(self.annotator_id)

    def available(self) -> int:
        """Pairs this annotator could still be given besides the one on screen: :func:`remaining` less the pair
        on screen (the header adds it back, so it shows :func:`remaining` — the lead's Queue tab's number)."""
        held = self.store.queue.count_held(self.annotator_id)
        total = remaining(self.store, self.annotator_id, min_gate_rank=self.min_gate_rank, cap=self.cap,
                          held=held)
        return max(0, total - min(held, 1))

    def next_pair(self) -> Pair | None:
        """The pair to show now: an unanswered one first (resume, undo), else a fresh assignment."""
        current = self.store.queue.current_assignment(self.annotator_id)
        if current is not None:
            return self._load(current.pair_id, current.shown_left)
        progress = None
        if self.gold_rate > 0:
            progress = self.progress()
        if self.cap is not None:
            done = progress["done"] if progress else self.store.queue.done_count(self.annotator_id)
            if done >= self.cap:
                return None
        # Choosing and claiming in one write transaction: two annotators never both take a pair's last slot.
        with self.store.transaction():
            pair_id = None
            if progress is not None and self._gold_due(progress):
                found = self.store.queue.next_open_pair(self.annotator_id, gold=True, min_gate_rank=self.min_gate_rank)
                pair_id = found.pair_id if found else None
            if pair_id is None:
                pair_id = self._next_ordinary_pair()
            if pair_id is None:
                return None
            side = side_for(self.seed, self.annotator, pair_id)
            self.store.queue.assign(self.annotator_id, pair_id, side)
        return self._load(pair_id, side)

    def _next_ordinary_pair(self) -> int | None:
        """Walk the open pairs from the priority last served down, so the pairs this annotator already judged
        (still open for others while overlap > 1) are not re-scanned on every keypress — that scan grows with
        every vote. Every RESCAN_EVERY claims, and whenever the walk runs dry, start again from the top, so that
        pairs freed by skips, passed by the gates or re-prioritised come back into reach."""
        below = self._cursor if self._since_rescan < RESCAN_EVERY else None
        found = self.store.queue.next_open_pair(self.annotator_id, gold=False, min_gate_rank=self.min_gate_rank,
                                          below=below)
        if found is None and below is not None:
            below = None
            found = self.store.queue.next_open_pair(self.annotator_id, gold=False, min_gate_rank=self.min_gate_rank)
        if found is None:
            return None
        self._since_rescan = 1 if below is None else self._since_rescan + 1
        self._cursor = found.priority
        return found.pair_id

    def _gold_due(self, progress: dict[str, int]) -> bool:
        """Gold pairs spread evenly: the next one is due once gold would fall below ``gold_rate`` of the done."""
        if self.gold_rate <= 0:
            return False
        return progress["gold_done"] < self.gold_rate * progress["done"]

    def _load(self, pair_id: int, shown_left: str) -> Pair:
        row = self.store.queue.load_pair(pair_id)
        return Pair(shown_left=shown_left, is_gold=bool(row.pop("is_gold")), **row)

    def vote(self, pair: Pair, choice: str, *, ts: str, rationale: str | None = None,
             criteria: dict[str, Any] | None = None, flagged: bool = False, flag_reason: str | None = None,
             uid: str | None = None) -> str:
        """Commit the vote (returns its uid). When this returns the vote is durable in SQLite."""
        from sbs_tui.core.records import VoteRecord

        vote = VoteRecord(
            prompt_id=pair.prompt_id, prompt=None, model_a=pair.model_a, model_b=pair.model_b,
            winner=pair.winner_for(choice), annotator=self.annotator, shown_left=pair.shown_left, ts=ts,
            rationale=rationale or None, criteria=criteria or None, flagged=flagged, flag_reason=flag_reason,
            pair_id=pair.pair_id, uid=uid or new_vote_uid(),
            meta={"gold_winner": pair.gold_winner} if pair.is_gold else {},
        )
        self.store.queue.record_vote(vote, self.annotator_id)
        return vote.uid

    def skip(self, pair: Pair, *, ts: str | None = None) -> None:
        self.store.queue.skip(self.annotator_id, pair.pair_id, ts)

    def flag(self, pair: Pair, reason: str | None) -> None:
        self.store.queue.flag(self.annotator_id, pair.pair_id, reason)

    def undo(self) -> Pair | None:
        """Delete the last vote and return its pair, to be judged again (same side on the left)."""
        result = self.store.queue.undo_last_vote(self.annotator_id)
        return None if result is None else self._load(result.pair_id, result.shown_left)

    def withdraw(self) -> int | None:
        """Delete the last vote *without* judging its pair again (its model names were shown); returns the pair
        id, or None when there was nothing to withdraw. The pair's slot goes back to the other annotators."""
        return self.store.queue.withdraw_last_vote(self.annotator_id)


def new_vote_uid() -> str:
    """A fresh uid for a vote cast in the app (random: two votes on the same pair are two votes)."""
    import uuid

    return f"v_{uuid.uuid4().hex}"

