"""Imports: files of generations, votes, benchmark and A/B results in, normalised records stored, all or nothing.

Why a package: one set of row rules (:mod:`.rows`) serves every importer and ``sbs score``'s reader; the
import machinery (:mod:`.importer`: batching, parallel parsing, rollback) is shared by generations and votes;
results and the A/B control rule (:mod:`.results`, :mod:`.ab_control`) sit beside them.
"""
