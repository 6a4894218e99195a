"""Prompt templates for pairwise LLM judges, and reading a verdict (and its probability) out of a reply.

Two templates ship, after the two public protocols most judge numbers are quoted in:

* ``alpaca_eval`` — AlpacaEval 2's weighted judge (``weighted_alpaca_eval_gpt4_turbo``): the judge names the
  better output's identifier (``m`` or ``M``) in one token, and the probability of "first is better" is read
  from the log-probabilities of those two tokens, not from the sampled token alone.
* ``mt_bench`` — MT-bench's pairwise prompt (``pair-v2``): a short explanation, then ``[[A]]``, ``[[B]]`` or
  ``[[C]]`` (tie); the probability, when the endpoint returns log-probabilities, is read at the verdict token
  after the last ``[[``.

A template file (TOML) may define its own: ``system`` (optional), ``user`` with the placeholders
``{instruction}``, ``{output_1}``, ``{output_2}``, ``labels = ["first", "second"]`` or with a third, tie label,
and ``max_tokens``. Placeholders are replaced literally (no ``str.format``), so braces in a template or in model
text need no escaping and model text can never inject a placeholder.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbs_tui.errors import InputError

MAX_CHARS = 12_000  # per output; longer outputs are cut (the judge's context is finite, its cost is not)

_ALPACA_SYSTEM = (
    "You are a highly efficient assistant, who evaluates and selects the best large language model (LLMs) based "
    "on the quality of their responses to a given instruction. This process will be used to create a leaderboard "
    "reflecting the most accurate and human-preferred answers."
)
_ALPACA_USER = '''I require a leaderboard for various large language models. I'll provide you with prompts given to these models and their corresponding outputs. Your task is to assess these responses, and select the model that produces the best output from a human perspective.

## Instruction

{
    "instruction": """{instruction}""",
}

## Model Outputs

Here are the unordered outputs from the models. Each output is associated with a specific model, identified by a unique model identifier.

{
    {
        "model_identifier": "m",
        "output": """{output_1}"""
    },
    {
        "model_identifier": "M",
        "output": """{output_2}"""
    }
}

## Task

Evaluate the models based on the quality and relevance of their outputs, and select the model that generated the best output. Answer by providing the model identifier of the best model. We will use your output as the name of the best model, so make sure your output only contains one of the following model identifiers and nothing else (no quotes, no spaces, no new lines, ...): m or M.

## Best Model Identifier
'''

_MT_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by "
    "comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow the length of "
    "the responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective "
    "as possible. After providing your explanation, output your final verdict by strictly following this "
    'format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)
_MT_USER = (
    "[User Question]\n{instruction}\n\n[The Start of Assistant A's Answer]\n{output_1}\n"
    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{output_2}\n"
    "[The End of Assistant B's Answer]"
)


@dataclass(frozen=True, slots=True)
class JudgeTemplate:
    name: str
    user: str
    system: str | None = None
    labels: tuple[str, ...] = ("A", "B", "C")  # first better, second better[, tie]
    max_tokens: int = 1024

    def messages(self, instruction: str, output_1: str, output_2: str) -> list[dict[str, str]]:
        values = {"{instruction}": instruction[:MAX_CHARS], "{output_1}": output_1[:MAX_CHARS],
                  "{output_2}": output_2[:MAX_CHARS]}
        user = _substitute(self.user, values)
        out = [{"role": "system", "content": self.system}] if self.system else []
        return out + [{"role": "user", "content": user}]

    def prompt_text(self, instruction: str, output_1: str, output_2: str) -> str:
        """One string, for a local causal LM without a chat template."""
        return "\n\n".join(m["content"] for m in self.messages(instruction, output_1, output_2))

    def identity(self) -> dict[str, Any]:
        """What defines the template's verdicts (part of the judge's config hash)."""
        return {"system": self.system, "user": self.user, "labels": list(self.labels),
                "max_tokens": self.max_tokens}

    # -- reading replies ------------------------------------------------------------------------------------

    def verdict(self, text: str) -> str | None:
        """'first', 'second', 'tie', or None when the reply names no verdict."""
        label = self._label(text)
        if label is None and self.labels[:2] == ("A", "B"):
            from scorers.judge import parse_verdict  # the lenient parser: [[A]], "Winner: B", "tie"...

            found = parse_verdict(text)
            label = {"A": "A", "B": "B", "tie": self.labels[2] if len(self.labels) > 2 else None}.get(found or "")
        return self._outcome(label)

    def p_first(self, logprobs: Any) -> float | None:
        """P(first output better) from a chat completion's ``logprobs.content``, read as AlpacaEval reads it.

        At the verdict position, only alternatives whose token *is* a label count — ``"M"``, never ``" M"`` or
        ``"M\\n"`` — and the probability is renormalised over the labels found (a tie label counts half); a label
        missing from the top log-probabilities has probability 0, and when none is there the reply has no
        probability (None). Why exact: a whitespace variant is another continuation, not the same answer, and
        summing it in moves P away from AlpacaEval's (0.58 instead of 0.82 with both ``M`` and ``" M"`` in the
        top 5). The sampled token itself need not be a label: a one-token template (AlpacaEval's) reads the
        first position whatever was sampled there, so a reply "The" whose top log-probabilities hold ``m`` and
        ``M`` is still scored. For MT-bench's ``[[A]]`` the label may come with its brackets in one token
        (``"[[A"``, ``"A]]"``), never with whitespace."""
        if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
            return None
        tokens = [t for t in logprobs["content"] if isinstance(t, dict)]
        position, bracketed = self._verdict_position(tokens)
        if position is None:
            return None
        top = tokens[position].get("top_logprobs")
        alternatives = top if isinstance(top, list) and top else [tokens[position]]
        forms = self._label_forms(bracketed)
        by_token: dict[str, float] = {}  # one probability per distinct token, as AlpacaEval's token → logprob map
        for alt in alternatives:
            if not isinstance(alt, dict):
                continue
            token, logprob = alt.get("token"), alt.get("logprob")
            if (isinstance(token, str) and token in forms and isinstance(logprob, (int, float))
                    and not isinstance(logprob, bool) and math.isfinite(logprob)):
                by_token[token] = math.exp(min(0.0, logprob))
        mass = {label: 0.0 for label in self.labels}
        for token, probability in by_token.items():
            mass[forms[token]] += probability
        return p_first_from_mass(mass, self.labels)

    def _label_forms(self, bracketed: bool) -> dict[str, str]:
        """The tokens that write a label exactly: the label itself, and in a bracketed reply the label joined to
        its brackets. Never a whitespace variant."""
        forms = {label: label for label in self.labels}
        if bracketed:
            for label in self.labels:
                forms.update({f"[[{label}": label, f"{label}]]": label, f"[[{label}]]": label})
        return forms

    def _verdict_position(self, tokens: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """Where the verdict was written, and whether the reply uses brackets: the first token for a one-token
        template (AlpacaEval's protocol: the answer *is* the first token, whatever was sampled); after the last
        ``[[`` when the reply uses brackets (MT-bench; an "A" inside the explanation is not the verdict); else
        the first label token."""
        if not tokens:
            return None, False
        if self.max_tokens == 1:
            return 0, False
        text = ""
        bracketed = first = None
        for i, tok in enumerate(tokens):
            token = str(tok.get("token", ""))
            if self._label(token) is not None:
                if first is None:
                    first = i
                if text.rstrip().endswith("[[") or token.lstrip().startswith("[["):
                    bracketed = i
            text += token
        if "[[" in text:
            return bracketed, True
        return first, False

    def _label(self, token: str) -> str | None:
        core = token.strip().strip("[]\"'()*.:,`").strip()
        if core in self.labels:
            return core
        return None

    def _outcome(self, label: str | None) -> str | None:
        if label is None:
            return None
        return ("first", "second", "tie")[self.labels.index(label)]


def p_first_from_mass(mass: dict[str, float], labels: tuple[str, ...]) -> float | None:
    total = sum(mass.values())
    if total <= 0:
        return None
    p = mass[labels[0]] + (0.5 * mass[labels[2]] if len(labels) > 2 else 0.0)
    return min(1.0, max(0.0, p / total))


def _substitute(template: str, values: dict[str, str]) -> str:
    """Replace each placeholder in one left-to-right pass: text that was inserted is never scanned again."""
    out, i = [], 0
    while i < len(template):
        for key, value in values.items():
            if template.startswith(key, i):
                out.append(value)
                i += len(key)
                break
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


BUILTIN = {
    "alpaca_eval": JudgeTemplate("alpaca_eval", _ALPACA_USER, _ALPACA_SYSTEM, labels=("m", "M"), max_tokens=1),
    "mt_bench": JudgeTemplate("mt_bench", _MT_USER, _MT_SYSTEM, labels=("A", "B", "C"), max_tokens=1024),
}


def load_template(name_or_path: str) -> JudgeTemplate:
    """A built-in template by name, or a TOML template file."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(f"unknown judge template (built in: {', '.join(BUILTIN)}; or a .toml file)",
                         field="template")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"invalid TOML: {exc}", file=str(path)) from exc
    unknown = sorted(set(raw) - {"system", "user", "labels", "max_tokens"})
    if unknown:
        raise InputError("unknown key (known: system, user, labels, max_tokens)", file=str(path), field=unknown[0])
    user = raw.get("user")
    if not isinstance(user, str) or not all(p in user for p in ("{instruction}", "{output_1}", "{output_2}")):
        raise InputError("must be a string with {instruction}, {output_1} and {output_2}", file=str(path),
                         field="user")
    system = raw.get("system")
    if system is not None and not isinstance(system, str):
        raise InputError("must be a string", file=str(path), field="system")
    labels = raw.get("labels", ["A", "B", "C"])
    if (not isinstance(labels, list) or len(labels) not in (2, 3) or len(set(labels)) != len(labels)
            or not all(isinstance(x, str) and x.strip() == x and x for x in labels)):
        raise InputError("must be 2 or 3 distinct labels: first better, second better[, tie]", file=str(path),
                         field="labels")
    max_tokens = raw.get("max_tokens", 1024)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InputError("must be a positive integer", file=str(path), field="max_tokens")
    return JudgeTemplate(path.stem, user, system, tuple(labels), max_tokens)
