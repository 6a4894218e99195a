"""The lexicon's word lists and patterns: obscenity, insults (strong, and weak ones that count only when aimed),
threats, rude dismissals, the pronouns and fillers that aim an insult, quotation and dialogue marks, and the
exceptions and other lemmas that look like a match but are not.

Why apart from :mod:`scorers.lexicon` (the scorer) and :mod:`scorers.lexicon_context` (the rules read in
context): this is data — what the lexicon knows — which grows by review of the word lists, not by changing code.
Every pattern opens at a word start (optionally after a known verbal prefix) and lists its endings; the module
docstring of :mod:`scorers.lexicon` says why.
"""

from __future__ import annotations

import re

_B, _E = r"(?<![\w@])", r"(?![\w@])"  # word boundaries
_VERB_PREFIX = r"(?:за|на|от|отъ|у|вы|въ|до|пере|по|про|разъ|съ|при|подъ|недо|долбо|о)?"

RU_OBSCENITY = [
    rf"{_B}(?:на|по|от|за|ни|о|до|пере|с|у|вы|под|рас|раз|при|а)?ху(?:й|е|я|и|ю)\w*",
    r"\w*пизд\w*",
    rf"{_B}{_VERB_PREFIX}еб(?:[аулинеы]\w*|{_E})",
    rf"{_B}бля(?:д\w*|т\w*)?{_E}",
    r"\w*бляд\w*",  # выблядок; not "блят" inside a word: углублять, употреблять
    rf"{_B}(?:на|по|о)?хер(?:ня|ни|ню|ней|ов\w*|ова\w*|ово\w*)?{_E}",  # not херес (sherry), Херсон
    rf"{_B}муд(?:ак|ил|оз|озвон|охал|ач|ень)\w*",
    rf"{_B}пид(?:о|а|е)?р\w*",
    rf"{_B}залуп\w*",
    rf"{_B}г[ао]ндон\w*",
    rf"{_B}(?:за|по|от|на|по)?дроч\w*",
    rf"{_B}(?:говн|говен|дерьм)\w*",
    # Transliterated mat. Not a bare "hui"/"huy": Chinese and Vietnamese names.
    rf"{_B}(?:nahu[iy]\w*|pohu[iy]\w*|nihuya|hu[iy]n[iy]?a|huesos\w*|\w*pizd\w*|blya[dt]\w*|(?:za|na|vy|ot)?"
    r"(?:yeb|eba)(?:a|l|n|t)\w*)",
]
PHRASE_OBSCENITY = [
    rf"{_B}(?:na|po) (?:huy|hui|xuy){_E}",
    rf"{_B}piece of (?:shit|crap){_E}",
    rf"{_B}sons? of a bitch{_E}",
]
EN_OBSCENITY = [
    rf"{_B}(?:mother|motha)?f(?:uck|u\*k|\*ck|\*\*k|@ck|#ck)\w*",
    rf"{_B}cunts?{_E}",
    rf"{_B}(?:ass|arse)holes?{_E}",
    rf"{_B}(?:dick|shit|butt)heads?{_E}",
    rf"{_B}shit(?:ty|show|hole|bag)s?{_E}",
]

# Insults that are insults wherever they stand.
RU_STRONG = [
    rf"{_B}(?:мраз|ублюд|выродк|выродок|подонк|подонок|дегенерат|недоум|имбецил|бестолоч|бездар|ничтожеств"
    r"|тупиц|тупорыл|безмозгл|придур|быдл|падл|паскуд|чмо|шлюх|шалав|сучар|уродин|дебил(?!ьн)|дибил|долбо"
    r"|шмар|ушлеп|отморож|гнусн|свинот)\w*",
]
EN_STRONG = [
    rf"{_B}(?:moron|imbecile|brainless|dumbass|dimwit|halfwit|nitwit|jackass|retards?|douche\w*|scumbag|twat|slut|whore"
    r"|asshat|dipshit|wanker|tosser|skank|numbskull|bonehead|knucklehead|lowlife|subhuman)"
    rf"s?{_E}",
]
# Insults that are ordinary words elsewhere: they count only when aimed at someone.
RU_WEAK = [
    rf"{_B}(?:идиот|кретин|урод|тварь|твар|скотин|сволоч|козел|козл|осел|осл|баран(?!ин)|свинь|дура|дурак"
    r"|дурач|лох|даун|олух|болван|гнид|сук|сучк|тупой|тупая|тупые|тупого|тупым|неудачник|лузер|отброс|гад"
    r"|щенок|жалк|ничтож|мерзк|вонюч|конченн?|чучел|упыр|урод|лошар|лошпед|овц|коров|жоп)"
    r"(?:а|у|ом|ой|е|ы|и|ов|ам|ами|ах|ей|ю|ью|ь|ина|ский|ская|ское|ские|ка|ки|ку|ий|ый|ая|ое|ые|ого|ым|ыми"
    rf"|ую|ых|о)?{_E}",
]
EN_WEAK = [
    rf"{_B}(?:idiots?|stupid|dumb|fools?|losers?|pathetic|worthless|useless|ugly|fat|pigs?|clowns?|trash"
    r"|garbage|freaks?|bitch(?:es)?|scum|clueless|dumbest|stupidest|ugliest|dumbo|hicks?|snowflakes?|ignorant|cretins?|jerks?|pricks?|dicks?|cocks?"
    r"|ass(?:es)?|crap|shit|bullshit|disgusting|filthy|lazy|idiotic|retarded|bastards?|cows?|creeps?"
    r"|losers?|dunces?|simpletons?|buffoons?|oafs?|twits?|maggots?|vermin|parasites?|cowards?|failures?|disgrace"
    r"|airheads?|blockheads?|degenerates?|bimbos?|hoes?|rats?|snakes?|weasels?|scumbags?)"
    rf"{_E}",
]
RU_THREATS = [
    rf"{_B}(?:убью|убьем|прибью|пристрелю|зарежу|порежу|урою|закопаю|закопаем|задушу|сожгу|сдохни|сдохнешь"
    r"|проломлю|придушу|замочу|грохну)\w*",
    rf"{_B}чтоб(?:ы)? (?:ты|вы|тебя|вас) (?:сдох|сдохли|сгнил|сгорел)\w*",
    rf"{_B}(?:ты|вы|он|она) (?:труп|покойник|не жилец){_E}",
    rf"{_B}(?:я|мы) (?:тебя|вас|тебе|вам) (?:найду|найдем|убью|урою|сломаю|покалечу|уничтожу)\w*",
    rf"{_B}сломаю (?:тебе|вам)\w*",
    rf"{_B}тебе (?:конец|крышка|не жить){_E}",
    rf"{_B}(?:набью|разобью|расквашу|сломаю|сверну|оторву|проломлю|выбью|начищу)(?: тебе| вам| ему| ей)?"
    rf" (?:морду|рожу|лицо|нос|башку|голову|шею|челюсть|зубы|ноги|руки|хлебало|ебало|рыло){_E}",
    rf"{_B}(?:(?:тебе|вам|ему|ей) )?(?:морду|рожу|нос|башку|голову|шею|челюсть|зубы|хлебало|ебало|рыло)"
    rf"(?: тебе| вам)? (?:набью|разобью|расквашу|сломаю|сверну|оторву|проломлю|выбью|начищу){_E}",
]
EN_THREATS = [
    r"(?<!\w)(?:i|we)(?:'ll| will|'m going to| am going to| are going to|'re going to| gonna| shall)"
    r"(?: (?!never|not|no)\w+){0,2} (?:kill|hurt|murder|shoot|stab|beat|break|smash|burn|destroy|rape|strangle|choke|bury)"
    r"(?: \w+){0,3}? (?:you|your|yours|yourself|him|her|them)(?!\w)",
    rf"{_B}kill (?:yourself|urself|yourselves){_E}",
    rf"{_B}(?:go|hope you) (?:die|rot)(?: in a (?:hole|fire|ditch))?{_E}",
    rf"{_B}(?:you're|you are|he's|he is|she's|she is) a dead (?:man|woman){_E}",
    rf"{_B}(?:watch your back|i know where you live){_E}",
    r"(?<!\w)(?:i|we)(?:'ll| will|'m going to| am going to| are going to|'re going to| gonna| shall)"
    r"(?: (?!never|not|no)\w+){0,5} make (?:you|him|her|them) (?:bleed|suffer|pay|regret\w*|cry|beg)(?!\w)",
    r"(?<!\w)(?:i|we)(?:'ll| will|'m going to| am going to| gonna) end (?:you|u)(?![\w'])",
    rf"{_B}(?:go )?(?:jump off a (?:bridge|cliff|building|roof)|hang yourself|drink bleach|neck yourself"
    rf"|off yourself|kys){_E}",
]

# Addressing someone: a second-person pronoun right before the insult (only fillers and other insults between:
# "you are a stupid idiot", "ты что, совсем тупой") or right after it ("idiot like you", "как и ты сам").
# Not just anywhere in the sentence: "If you want to roast a pig" must not count.
_PRONOUNS = frozenset("""ты тебя тебе тобой тобою вы вас вам вами you you're youre yourself u ya thou thee""".split())
# Possessives aim only from after the word ("idiot of yours"); before it they mostly own things ("your pig
# roaster", "ваша свинья").
_POSSESSIVES = frozenset("""твой твоя твое твои твоего твоей твоим твоих ваш ваша ваше ваши вашего вашей your yours
ur thy""".split())
_FILLERS = frozenset("""are 're r re such a an so really this that how very the little big total complete absolute utter real fucking damn
just such are were is как и что совсем вообще просто реально такой такая такое такие полный полная полное
настоящий настоящая самый самая же сам сама был была были есть ещё еще like""".split())
_TOKENS = re.compile(r"[\w@']+")
_SENTENCE_EDGE = re.compile(r"[.!?\n\u2026]")
_LAST_TOKEN = re.compile(r"([\w@']+)[ \t]+$")
_FIRST_TOKEN = re.compile(r"[ \t]+([\w@']+)")
_QUOTES = re.compile(r"\"[^\"\n]{1,1500}\"|\u201c[^\u201d\n]{1,1500}\u201d|\u00ab[^\u00bb\n]{1,1500}\u00bb"
                     r"|(?<!\w)'[^'\n]{1,60}'(?!\w)|\u2018[^\u2019\n]{1,60}\u2019")
# "Bryan Mills: ...", "**Captor 2:** (smirking) ..." — a script's speaker label (one to three capitalised words,
# matched on the original text, not a bullet point's "* **Performance:**") starts a quoted line.
_DIALOGUE = re.compile(r"(?m)^[ \t>]*(?:\*\*|__)?[A-ZА-ЯЁ][\w'.\-]*(?: [A-ZА-ЯЁ0-9][\w'.\-]*){0,2}(?:\*\*|__)?"
                       r"[:：](?:\*\*|__)?[ \t].*$")

#: Patterns on one word (tested once per distinct word, so long texts cost little) ...
WORD_CATEGORIES = {
    "obscenity": RU_OBSCENITY + EN_OBSCENITY,
    "insult": RU_STRONG + EN_STRONG,
    "insult_targeted": RU_WEAK + EN_WEAK,
}
#: ... and on running text (several words).
PHRASE_INSULTS = [
    rf"{_B}(?:a |you )?waste of (?:space|oxygen|air|skin){_E}",
    rf"{_B}(?:you(?:'re| are)?|ur)(?: \w+){{0,4}} (?:sack|piece|bag|pile) of (?:shit|crap|garbage|trash|dirt){_E}",
    # Rude dismissals: offensive wherever they stand (a quoted one is a mention, as always).
    rf"{_B}(?:shut (?:the (?:hell|fuck) )?up|shut your (?:mouth|face|trap)|piss off|screw you|go to hell){_E}",
    rf"{_B}(?:заткнись|заткнитесь|заткни (?:пасть|рот|хлебало|варежку)|отвали|отвалите|отвянь|отъебись|проваливай"
    rf"|пошел вон|пошла вон|пошли вон){_E}",
    rf"{_B}(?:пошел|пошла|пошли|иди|идите|катись)(?: ты| вы)? (?:в жопу|в задницу|нафиг|нахрен|на хрен|к черту"
    rf"|к чертям|лесом|на три буквы){_E}",
]
PHRASE_CATEGORIES = {"obscenity": PHRASE_OBSCENITY, "insult": PHRASE_INSULTS, "threat": RU_THREATS + EN_THREATS}
CATEGORIES = ("obscenity", "insult", "insult_targeted", "threat")
_COMPILED = {name: re.compile("|".join(f"(?:{p})" for p in pats)) for name, pats in WORD_CATEGORIES.items()}
# The first four letters of a word that every phrase pattern needs (its verb or noun).
_TRIGGERS = frozenset(w[:4] for w in """kill hurt murder shoot stab beat break smash burn destroy rape strangle choke
bury die rot dead watch live bleed suffer pay regret regrets cry beg end jump hang bleach neck kys shut piss screw hell
waste sack piece bag pile huy hui xuy shit crap bitch убью убьем прибью пристрелю зарежу порежу урою закопаю закопаем
задушу сожгу сдохни сдохнешь сдох сдохли сгнил сгорел проломлю придушу замочу грохну труп покойник жилец найду найдем
сломаю покалечу уничтожу конец крышка жить набью разобью расквашу сверну оторву выбью начищу заткнись заткнитесь
заткни отвали отвалите отвянь отъебись проваливай вон жопу задницу нафиг нахрен хрен черту чертям лесом буквы""".split())
# Every phrase starts with a letter at a word start (each pattern opens with a word-boundary look-behind and a
# letter; tests/test_gates_speed.py checks this on the parsed patterns). Saying so up front lets the engine reject
# the other positions in two steps instead of trying some forty alternatives at each: a sixth of the cost.
# Behind that guard each phrase's own opening look-behind says less: ``(?<![\w@])`` is only ``(?<!@)`` there
# and ``(?<!\w)`` nothing (``_after_guard``), which takes another third off the scan; same matches, same order.


def _after_guard(pattern: str) -> str:
    """``pattern`` as it reads behind the scan's ``(?<!\w)`` guard (the alternatives' order is unchanged)."""
    if pattern.startswith(_B):
        return "(?<!@)" + pattern[len(_B):]
    if pattern.startswith(r"(?<!\w)"):
        return pattern[len(r"(?<!\w)"):]
    raise ValueError(f"a phrase must open with a word-boundary look-behind: {pattern[:40]!r}")


_PHRASES = re.compile(r"(?<!\w)(?=\w)(?:" + "|".join(
    f"(?P<{name}>{'|'.join(f'(?:{_after_guard(p)})' for p in pats)})" for name, pats in PHRASE_CATEGORIES.items())
    + ")")
# Whole words that a pattern above would catch but that are benign.
EXCEPTIONS = frozenset({"ебонит", "ебург", "бляха", "бляхи", "бляху", "бляхой", "бляшка", "сукно", "сука-"})
# Homographs told apart by morphology: another lemma's whole paradigm, which no obscene form shares. ``дрочена``
# (a baked egg-and-milk dish) declines as a noun in -а; the verb ``дрочить`` has no form in ``дрочен-`` but a rare
# passive participle, which is not an insult either.
_OTHER_LEMMAS = re.compile(r"дрочен(?:а|ы|е|у|ой|ою|ам|ами|ах|ка|ки|ке|ку|кой|ок)?")

