"""The annotator process never imports torch or transformers (they belong to the gate subprocess)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.annotate_helpers import make_store

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from sbs_tui.config import Settings
    from sbs_tui.tui.annotate.app import make_app

    async def main():
        app = make_app(sys.argv[1], "ann", Settings(), gate_watch=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("m", "d", "1", "u", "2", "s", "question_mark", "escape", "q")
        app.store.close()

    asyncio.run(main())
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "scipy", "numpy"))
    print("HEAVY:" + ",".join(heavy))
""")


def test_annotator_app_never_imports_torch_or_transformers(tmp_path):
    path = tmp_path / "h.db"
    make_store(path, prompts=2).close()
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    heavy = result.stdout.strip().splitlines()[-1].removeprefix("HEAVY:").split(",")
    assert not [m for m in heavy if m.split(".")[0] in ("torch", "transformers")]
    # scipy is only needed by --strategy active (queue build), never by judging
    assert not [m for m in heavy if m.split(".")[0] == "scipy"], heavy


def test_cli_module_of_the_app_is_light():
    code = ("import sys, sbs_tui.commands.annotate, sbs_tui.commands.queue, sbs_tui.commands.serve; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','torch','transformers','scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    assert out == "[]"
