"""The headless core shared by the CLI and the Textual apps.

Nothing under this package may import ``textual`` or ``torch`` (checked by tests/test_import_hygiene.py):
pipelines and ``sbs rank`` must start fast and run where no terminal UI or GPU stack is installed.
"""
