"""sbs-tui: an LLM evaluation workbench in the terminal."""

__version__ = "0.1.0"
