"""The annotation queue: which pairs annotators judge, in what order, and on which side each model shows.

Why a package: building the queue (:mod:`.build`: pairs, gold, active sampling), hiding a model's identity
(:mod:`.identity`) and serving one annotator (:mod:`.annotator`) share one set of options and one store seam
(``store.queue``). It ranks (active sampling) and is read by the gates' review, so it sits between them.
"""
