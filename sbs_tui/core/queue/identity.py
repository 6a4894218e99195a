"""A model's identity in its own answer ("As an AI developed by OpenAI"): found, so the pair is held back.

Why its own module: a blind comparison is not blind when an answer names its maker; the patterns (built-in and
``[queue] identity_patterns``) and the text normalisation that defeats invisible characters are one rule, used
when the queue is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sbs_tui.core.settings import QueueSettings


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
