"""Every results table the CLI prints, one module per command family: rank, agreement, gates (and generations),
A/B, funnel, queue (and flags, team accounts); the console they print on is :mod:`.console`.

Why a layer apart from the core: the core returns plain data (also what ``--format json`` prints); only this
layer knows about terminals. Every name from user files goes through :func:`sbs_tui.present.text.literal` and
every number through :mod:`sbs_tui.present.numbers`, so a hostile name can neither restyle the terminal nor shift
a column, and a number looks the same in every table. Rich is imported inside the functions (the CLI's
``--help`` paths never pay for it).
"""
