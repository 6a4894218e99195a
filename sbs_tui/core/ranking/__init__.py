"""Ranking engine: Bradley-Terry, online Elo, TrueSkill and win rate, with honest confidence intervals.

Headless (numpy/scipy only, no SQL, no printing): ``sbs rank`` and the review app call it with what
:meth:`Store.votes.outcomes` returns. Modules, one job each:

* :mod:`.outcomes`  — aggregated outcome counts (the only input BT and its bootstrap need) and tallies.
* :mod:`.bt`        — the Bradley-Terry MLE on those counts, sandwich covariance, Elo scale.
* :mod:`.bootstrap` — multinomial bootstrap of the counts, all rounds refitted together (vectorised).
* :mod:`.btrank`    — BT ratings + intervals + Rank (UB) per comparison component.
* :mod:`.online`    — online Elo (order-dependent, and its order-averaged variant) and TrueSkill.
* :mod:`.winrate`   — AlpacaEval win rate against a baseline and its length-controlled variant.
* :mod:`.style`     — style/length-controlled BT (Arena's style control) on per-vote covariates.
* :mod:`.report`    — the result objects and the ``sbs rank`` JSON contract.
"""
