"""Offline stand-ins shipped with the package, so the whole loop can be tried without a GPU or a network
(``python -m sbs_tui.testing.fake_endpoint``); standard library only, and never imported by the product."""
