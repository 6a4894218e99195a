"""``sbs serve`` as one call: check who can sign in, say where the server listens, run it until Ctrl+C.

Why here and not in the command: what the server needs before it starts (an account that can sign in, or the
one-person team's token made at start-up) is the server's rule, and the command layer makes one call
(``tests/test_one_hop.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.config import Settings
    from sbs_tui.core.store import Store
    from sbs_tui.web.server import ServeOptions


def start_server(options: ServeOptions, *, settings: Settings, open_store: Callable[[], Store],
                 note: Callable[[str], None], say: Callable[[str], None]) -> None:
    """Serve the team (``options.solo`` None: at least one active account must exist) or one annotator (a token
    made now, its link printed once with ``say``). ``note`` gets the diagnostics (stderr). With ``[arena] web``
    on (``options.arena``), ``[arena]`` and its models are checked first, so a bad table fails before serving
    rather than in an annotator's browser."""
    from sbs_tui.core.team import active_accounts, personal_link
    from sbs_tui.web.server import TeamServer, serve

    if options.arena:
        from sbs_tui.core.generate.arena import load_arena

        load_arena(settings)

    if options.solo is not None:
        server = TeamServer(options)
        assert server.solo_token is not None
        note(f"serving {options.solo!r}'s annotator app (Ctrl+C to stop); open this link (valid until the server "
             "stops):")
        say(personal_link(server.solo_token, host=options.host, port=options.port, public_url=options.public_url))
        serve(options, server=server)
        return
    with open_store() as store:
        accounts = active_accounts(store)
    if not accounts:
        raise InputError("no annotator can sign in yet: add one with `sbs annotators add NAME`")
    note(f"serving sbs for {len(accounts)} account(s) on {options.base_url} (Ctrl+C to stop)")
    serve(options)
