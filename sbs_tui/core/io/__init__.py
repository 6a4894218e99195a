"""Files in and out: streaming readers with line numbers, spreadsheet-safe CSV cells, atomic export writers.

Why a package: every importer, ``sbs score`` and every export read and write files by the same rules (a bad
row names its file and line; a CSV cell never runs as a formula; a half-written file is never left behind).
It knows nothing of features above it and sits just above the store.
"""
