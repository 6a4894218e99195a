"""The presentation layer: how results and hostile text look in a terminal, for the CLI and both apps.

Modules, each with one job: :mod:`.text` (the one literal-text rule), :mod:`.numbers` (how ratings,
intervals, p-values, percentages and counts are written), :mod:`.tables` (every results table the CLI prints),
and the shareable report (``report_text`` cells, ``report_html``, ``report_md``). Nothing here imports Textual, and Rich is imported inside functions where it would otherwise load on
``sbs --help`` paths, so the CLI stays fast.
"""
