"""Gates: automatic scorers run over generations, and what their verdicts mean.

Why a package: the policy (which gate, which threshold, blocking or not), the runner over scorers with its
result cache, the watcher, headless batch scoring (``sbs score``, also on Ray), the leads' review of blocked
generations and the gates measured as classifiers all follow one rule set, so they change together. Scorers
themselves live in the top-level ``scorers`` package and load lazily.
"""
