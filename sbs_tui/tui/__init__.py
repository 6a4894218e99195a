"""Textual front ends (annotator and lead apps). Only this package imports textual."""
