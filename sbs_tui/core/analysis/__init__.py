"""Statistics over what the store holds: A/B tests, annotator agreement, position bias, the funnel, plot data.

Why a package: these read votes, results and gate outcomes and compute, never write; the views above them
(:mod:`sbs_tui.core.views`) turn their results into what a surface shows. They sit above rankings and gates
(the funnel ranks and counts coverage) and below the views (import-linter's layers contract in pyproject.toml).
"""
