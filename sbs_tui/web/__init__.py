"""The team server behind ``sbs serve``: sign-in by token, one app process per browser session (textual-serve)."""
