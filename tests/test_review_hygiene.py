"""The review app, like the annotator app, never imports torch or transformers (scipy/numpy load in its workers
for the statistics, which is fine); its command module stays light for `sbs --help`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.review_helpers import build_review_db

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from textual.worker import WorkerCancelled
    from sbs_tui.config import Settings
    from sbs_tui.tui.review.app import make_review_app
    from sbs_tui.core.ranking.request import RankRequest

    async def settle(app, pilot):
        for _ in range(20):
            try:
                await app.workers.wait_for_complete()
                break
            except WorkerCancelled:
                continue
        await pilot.pause()

    async def main():
        app = make_review_app(sys.argv[1], Settings(), rank_options=RankRequest(rounds=50))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            for key in ("m", "m", "m", "l", "5", "r"):
                await pilot.press(key)
                await settle(app, pilot)
            await pilot.press("q")

    asyncio.run(main())
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
    print("HEAVY:" + ",".join(heavy))
""")


def test_review_app_never_imports_torch_or_transformers(tmp_path):
    path = build_review_db(tmp_path / "h.db", votes_each=5)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_review_command_module_is_light():
    code = ("import sys, sbs_tui.commands.review; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','torch','transformers','scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == "[]"
