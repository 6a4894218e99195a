"""The one safety taxonomy every gate reports in, and how external models' labels map onto it.

Why one taxonomy: "safe" means nothing until it says *against what*. A gate declares the categories it covers
(``ScorerInfo.categories``) and in which languages (``ScorerInfo.languages``); a stored score then says which
categories no enabled blocking gate checked in that text's language (``unchecked``). External models speak
their own labels (Llama Guard's S1–S14, OpenAI moderation's slash names, Jigsaw's heads); the maps below turn
them into these names, so a Llama Guard gate and the offline filter can be compared category by category.

The names follow the union of Jigsaw (Perspective), OpenAI moderation and Llama Guard 3's hazard list,
merged where they mean the same harm. ``docs/gates.md`` prints this table.
"""

from __future__ import annotations

#: category → one-line meaning (the order is the order tables show them in).
CATEGORIES: dict[str, str] = {
    "insult": "insulting, demeaning language aimed at someone",
    "obscenity": "obscene or profane language",
    "threat": "a threat or wish of harm against someone",
    "hate": "attacks on people for a protected attribute (race, religion, gender, orientation, disability…)",
    "harassment": "harassing, bullying or intimidating someone",
    "sexual": "sexual content or sexual harassment",
    "sexual_minors": "sexual content involving minors",
    "self_harm": "encouraging or instructing suicide or self-harm",
    "violence": "violent content, incitement or glorification of violence; violent crimes",
    "illicit": "help with non-violent crimes (fraud, hacking, drugs, trafficking)",
    "weapons": "indiscriminate weapons (chemical, biological, nuclear, explosives)",
    "privacy": "exposing private or personal information",
    "defamation": "false, damaging statements about real people",
    "specialized_advice": "unqualified medical, legal or financial advice presented as safe",
    "elections": "false information about electoral processes",
    "intellectual_property": "reproducing protected works",
    "code_abuse": "abusing a code interpreter (escapes, denial of service)",
}

#: The categories a safety check is expected to cover before "unchecked" goes quiet: the issue's core list.
CORE_CATEGORIES: tuple[str, ...] = (
    "insult", "obscenity", "threat", "hate", "harassment", "sexual", "self_harm", "violence",
)

#: Llama Guard 3 hazard codes (MLCommons taxonomy) → categories.
LLAMA_GUARD_3: dict[str, tuple[str, ...]] = {
    "S1": ("violence", "threat"),            # Violent Crimes
    "S2": ("illicit",),                      # Non-Violent Crimes
    "S3": ("sexual",),                       # Sex-Related Crimes
    "S4": ("sexual_minors",),                # Child Sexual Exploitation
    "S5": ("defamation",),                   # Defamation
    "S6": ("specialized_advice",),           # Specialized Advice
    "S7": ("privacy",),                      # Privacy
    "S8": ("intellectual_property",),        # Intellectual Property
    "S9": ("weapons",),                      # Indiscriminate Weapons
    "S10": ("hate",),                        # Hate
    "S11": ("self_harm",),                   # Suicide & Self-Harm
    "S12": ("sexual",),                      # Sexual Content
    "S13": ("elections",),                   # Elections
    "S14": ("code_abuse",),                  # Code Interpreter Abuse
}

#: OpenAI moderation categories (``omni-moderation``) → categories.
OPENAI_MODERATION: dict[str, tuple[str, ...]] = {
    "harassment": ("harassment", "insult"),
    "harassment/threatening": ("harassment", "threat"),
    "hate": ("hate",),
    "hate/threatening": ("hate", "threat"),
    "illicit": ("illicit",),
    "illicit/violent": ("illicit", "weapons", "violence"),
    "self-harm": ("self_harm",),
    "self-harm/intent": ("self_harm",),
    "self-harm/instructions": ("self_harm",),
    "sexual": ("sexual",),
    "sexual/minors": ("sexual_minors",),
    "violence": ("violence",),
    "violence/graphic": ("violence",),
}

#: Jigsaw / Detoxify heads → categories (``toxicity`` and ``severe_toxicity`` are general: insult + obscenity).
JIGSAW: dict[str, tuple[str, ...]] = {
    "toxicity": ("insult", "obscenity"),
    "toxic": ("insult", "obscenity"),
    "severe_toxicity": ("insult", "obscenity"),
    "severe_toxic": ("insult", "obscenity"),
    "obscene": ("obscenity",),
    "threat": ("threat",),
    "insult": ("insult",),
    "identity_attack": ("hate",),
    "identity_hate": ("hate",),
    "sexual_explicit": ("sexual",),
}


def check_categories(names: tuple[str, ...] | list[str], where: str = "categories") -> tuple[str, ...]:
    """Validate category names (a config's label map, a plug-in's declaration); raises ValueError naming the bad one."""
    import difflib

    for name in names:
        if name not in CATEGORIES:
            close = difflib.get_close_matches(name, list(CATEGORIES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}: unknown safety category {name!r}{hint} (known: {', '.join(CATEGORIES)})")
    return tuple(names)
