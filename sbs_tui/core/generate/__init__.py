"""Producing answers: ``sbs generate`` from configured model endpoints, and the live arena's battles.

Why a package: both stream answers from the same typed ``[models.NAME]`` specs and store them as generations;
the arena then gates them and stores the vote, which is why this package sits above gates and the queue.
"""
