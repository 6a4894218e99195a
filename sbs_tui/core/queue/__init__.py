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
  Chatbot Arena does; the text is normalised first (:func:`.identity.identity_text`), so zero-width characters, fullwidth
  letters and case cannot hide a leak.
* Assignment: an annotator is never given the same pair twice (also after a skip); a pair collects at most
  ``overlap`` votes; caps limit an annotator's total; gold (attention-check) pairs with a known winner are
  interleaved at ``gold_rate``; an unanswered pair is given back first when the annotator returns (resume).
* ``--strategy active`` orders pairs by how much their next vote is expected to reduce ranking uncertainty
  (see :func:`.build.active_priorities`).

Modules: :mod:`.build` (pairs, gold, active priorities), :mod:`.identity` (answers that name their model),
:mod:`.annotator` (one annotator's next pair, vote, skip, undo). Where it sits: it ranks (active sampling) and the
gates' review reads it (import-linter's layers contract in pyproject.toml).
"""
