"""One module per CLI command (group). Keep module-level imports to click and the standard library."""
