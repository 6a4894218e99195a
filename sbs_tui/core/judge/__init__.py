"""``sbs judge``: an LLM judge votes on pairs in both orders, stored as an annotator, resumably.

Why a package: the prompt templates and the reading of a verdict (:mod:`.templates`) change with the judge run
(:mod:`.judging`) and with nothing else.
"""
