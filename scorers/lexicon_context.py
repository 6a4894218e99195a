"""The lexicon's rules read in context: whether a weak insult is aimed at someone (:func:`_aimed`), whether a
strong one is a homograph in its ordinary sense (:func:`_ordinary_sense`: "retard the timing", "vaginal
douches", a crossbred ``ублюдок``), whether a match sits in code (:func:`_in_code`), and which spans are
quotations or dialogue lines (:func:`_quoted_spans`: a mention, not a use).

Why apart from :mod:`scorers.lexicon`: the scorer finds candidate matches fast (word sets, phrase windows); these
rules then judge each one, only for the few matches a text has, and each is tested on its own.
"""

from __future__ import annotations

import re

from scorers.lexicon_patterns import (_COMPILED, _DIALOGUE, _FILLERS, _FIRST_TOKEN, _LAST_TOKEN, _POSSESSIVES,
                                      _PRONOUNS, _QUOTES, _SENTENCE_EDGE, _TOKENS)


def _quoted_spans(low: str, cased: str) -> list[tuple[int, int]]:
    """Quoted text and dialogue lines (positions in ``low``; ``cased`` is the same text before lower-casing)."""
    return [(m.start(), m.end()) for m in _QUOTES.finditer(low)] + \
           [(m.start(), m.end()) for m in _DIALOGUE.finditer(cased)]


def _aimed(low: str, start: int, end: int, pairs: bool = True) -> bool:
    """A weak insult counts when it is aimed at someone: a second-person pronoun next to it (only fillers and
    other insults between), two different insults side by side (unless ``pairs`` is off: a homograph in its domain
sense stands next to animal words, "ублюдок осла"), or a vocative — set off by commas or opening its
    sentence, and followed by the sentence's end or by "you" ("Решай сам, придурок." / "Shut up, idiot!" /
    "Idiot, you know nothing.").

    What is *not* aimed, by rule rather than by listing cases: a word in code (a fenced block, inline code, a line
    that reads as code: ``Snake snake;``), a pronoun that follows only after punctuation ("a pet rat, you will
    need": the comma ends the noun phrase, and "rat" does not open its sentence), a heading or label ("Pig: You
    will need" — a colon is never a vocative's mark), and a list ("cows, sheep, pigs.")."""
    if _in_code(low, start, end):
        return False
    # Both sides stop at the sentence's edge: "...your pet rat. You will need a cage" aims at no one.
    sentence_before = _SENTENCE_EDGE.split(low[max(0, start - 80):start])[-1]
    before = _TOKENS.findall(sentence_before)
    for token in reversed(before[-4:]):
        if token in _PRONOUNS:
            return True
        if token not in _FILLERS and not _is_insult(token):
            break
    # After the word, only within its clause: punctuation between the word and "you" breaks the aim.
    clause_after = _CLAUSE_EDGE.split(_SENTENCE_EDGE.split(low[end:end + 60])[0])[0]
    for token in _TOKENS.findall(clause_after)[:3]:
        if token in _PRONOUNS or token in _POSSESSIVES:
            return True
        if token not in _FILLERS:
            break
    # "тупой идиот", "stupid bitch": two different insults side by side (a space between, not a comma: "cows, pigs"
    # is a list; not the same word twice: "Snake snake" names a type and a variable) name the person they aim at.
    word = low[start:end]
    prev = _LAST_TOKEN.search(low, max(0, start - 40), start)
    nxt = _FIRST_TOKEN.match(low, end)
    # A neighbour that is a homograph in its ordinary sense is no insult ("ублюдок осла" in a text on breeding).
    if pairs and any(m is not None and m.group(1) != word and _is_insult(m.group(1))
                     and not _ordinary_sense(low, m.start(1), m.end(1)) for m in (prev, nxt)):
        return True
    # A vocative: after a comma or dash, then the sentence ends ("Shut up, idiot!") or a comma and "you" follow;
    # or opening its sentence (nothing before it, not even a list marker) with a comma and "you" after it ("Idiot,
    # you know nothing" — but not "Rats! I forgot" or a line "Pigs." in a list of animals).
    head = low[max(0, start - 3):start].rstrip()
    after_comma = head.endswith((",", "—", "-"))
    opens = sentence_before.strip() == ""
    tail = low[end:end + 2].lstrip()
    if not (after_comma or opens):
        return False
    if not after_comma or (tail and tail[0] not in ".!?…"):
        if not tail.startswith(","):
            return False
        rest = _SENTENCE_EDGE.split(low[end + 1:end + 60].lstrip(" ,"))[0]
        following = _TOKENS.findall(_CLAUSE_EDGE.split(rest)[0])[:3]
        if not any(t in _PRONOUNS for t in following):
            return False
    # "cows, sheep, pigs." is a list, not an address: two or more short comma-separated items before it.
    segments = re.split(r"[,;]", sentence_before.rstrip()[:-1])
    return not (len(segments) >= 2 and all(len(_TOKENS.findall(x)) <= 2 for x in segments[-2:]))


# -- homographs read in context -------------------------------------------------------------------------------------
# A strong insult that is also a technical term counts unless its context gives the technical sense — and never
# when it is aimed at someone (``_aimed``): "you douche", "ты ублюдок" stay insults whatever the topic.

# "retard" the verb (slow down: "retard the ignition timing", "salt retards the growth of bacteria") takes an
# object or follows an infinitive marker or modal; the noun follows an article, a filler or another insult and ends
# its phrase or runs into a clause of its own ("you retard.", "what a retard", "retards like you", "retard who…").
_VERB_SENSE = re.compile(r"retards?")
_OBJECT_OPENERS = frozenset("""the a an its their his her this that these those our my further some any each every
both all""".split())
_VERB_MARKERS = frozenset("""to do does did don't doesn't didn't not never can can't cannot could couldn't will won't
would wouldn't should shouldn't may might must shall also""".split())
_NOUN_OPENERS = (_PRONOUNS | _FILLERS | frozenset("what this that these those some another other".split())) - \
    frozenset({"to"})
# What follows a noun but not a verb: a pronoun, a relative, an auxiliary, a conjunction, a preposition.
_NOUN_FOLLOWERS = (_PRONOUNS | _FILLERS | frozenset("""who whom whose which that and or but nor of in on at for with
from by over into about is are was were be been being has have had would will can could should must might may shall
does do did go get got""".split())) - _OBJECT_OPENERS
# Medical words in a clinical register: "vaginal douches", "a saline douche for the sinuses".
_CLINICAL_SENSE = re.compile(r"douches?")
_CLINICAL = re.compile(r"(?<!\w)(?:vagin\w*|gyn(?:a)?ecolog\w*|cervi\w*|pelvic|uter\w*|vulv\w*|bacteri\w*|flora"
                       r"|yeast|infections?|ph|std|stis?|hygien\w*|doctors?|physicians?|clinic\w*|medic\w*"
                       r"|obstetric\w*|pregnan\w*|menstrua\w*|saline|nasal|sinus\w*|irrigat\w*|enemas?|rectal"
                       r"|antiseptic\w*|vinegar|health\w*|symptoms?|patients?|nurses?|treatments?|periods?"
                       r"|discharge|odou?rs?|feminine|intimate|postpartum|douching)(?!\w)")
# Livestock breeding: ``ублюдок`` is an old zootechnical word for a crossbreed ("ублюдки от скрещивания пород").
_BREEDING_SENSE = re.compile(r"ублюд\w*")
_BREEDING = re.compile(r"(?<!\w)(?:помес\w*|скрещ\w*|гибрид\w*|зоотехн\w*|межпородн\w*|чистопородн\w*|селекц\w*"
                       r"|приплод\w*|потомств\w*|животновод\w*|скотовод\w*|коневод\w*|племенн\w*|случк\w*"
                       r"|пород(?:а|ы|е|у|ой|ам|ами|ах)?|производител\w*|мул(?:а|ы|у|ом|е|ов)?|лошак\w*"
                       r"|дворняг\w*|беспородн\w*)(?!\w)")


def _ordinary_sense(low: str, start: int, end: int) -> bool:
    """Whether a strong insult at ``low[start:end]`` is a homograph used in its ordinary sense (see above)."""
    word = low[start:end]
    if _VERB_SENSE.fullmatch(word):
        prev = _LAST_TOKEN.search(low, max(0, start - 40), start)
        before = prev.group(1) if prev is not None else ""
        nxt = _FIRST_TOKEN.match(low, end)
        after = nxt.group(1) if nxt is not None else ""
        if before in _PRONOUNS:  # "If you retard the timing": a subject, when an object follows
            return after in _OBJECT_OPENERS
        # "will retard the…", "retard ignition timing": an object follows; "a retard", "stupid retard",
        # "retards like you", "retard who…" are the noun.
        verb_before = before in _VERB_MARKERS or (before not in _NOUN_OPENERS and not _is_insult(before))
        return verb_before and bool(after) and after not in _NOUN_FOLLOWERS
    if _CLINICAL_SENSE.fullmatch(word):
        domain = _CLINICAL
    elif _BREEDING_SENSE.fullmatch(word):
        domain = _BREEDING
    else:
        return False
    sentence_start = max((m.end() for m in _SENTENCE_EDGE.finditer(low, max(0, start - 300), start)),
                         default=max(0, start - 300))
    edge = _SENTENCE_EDGE.search(low, end, end + 300)
    sentence = low[sentence_start:start] + " " + low[end:edge.start() if edge else end + 300]
    return domain.search(sentence) is not None and not _aimed(low, start, end, pairs=False)


# Punctuation that ends a clause: a pronoun beyond it is not the insult's target.
_CLAUSE_EDGE = re.compile(r"[,:;()\[\]{}<>=|\u2013\u2014]|(?<= )-(?= )")
# A line that reads as code: ends with ; { } or holds an assignment, a call, a scope or an arrow.
_CODE_LINE = re.compile(r"[;{}]\s*$|\w\s*=[^=]|\w\(|::|->|=>")


def _in_code(low: str, start: int, end: int) -> bool:
    """Inside a fenced block or inline code, or on a line that reads as code."""
    if low.count("```", 0, start) % 2 == 1:
        return True
    line_start = low.rfind("\n", 0, start) + 1
    line_end = low.find("\n", end)
    line = low[line_start:line_end if line_end >= 0 else len(low)]
    if line.count("`", 0, start - line_start) % 2 == 1:
        return True
    return _CODE_LINE.search(line) is not None


def _is_insult(token: str) -> bool:
    return bool(_COMPILED["insult_targeted"].fullmatch(token) or _COMPILED["insult"].fullmatch(token))
