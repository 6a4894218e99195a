"""The headless core must never pull in the TUI or the GPU stack (pipelines run where neither is wanted,
and `sbs --help` must start fast). Checked in a fresh interpreter, as harlequin does."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import sbs_tui.core

FORBIDDEN_IN_CORE = ("textual", "torch", "transformers")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_every_core_module_imports_without_textual_or_torch() -> None:
    modules = [m.name for m in pkgutil.walk_packages(sbs_tui.core.__path__, "sbs_tui.core.")]
    assert "sbs_tui.core.store" in modules
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert not loaded & set(FORBIDDEN_IN_CORE), loaded & set(FORBIDDEN_IN_CORE)


def test_cli_help_loads_no_heavy_module() -> None:
    code = ("import sys\nfrom sbs_tui.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    loaded = _loaded_after(code)
    assert not loaded & {"textual", "torch", "transformers", "scipy", "sklearn"}, loaded


def test_the_annotator_app_and_an_opened_store_load_neither_numpy_nor_pandas() -> None:
    """sqlite-utils would import both at load (to type their scalars, which the store never inserts): the
    annotator's cold start pays for neither (``core/store/lite.py``); a process that imported numpy first keeps it."""
    loaded = _loaded_after("import sbs_tui.tui.annotate.app\nfrom sbs_tui.core.store import Store\n"
                           "Store(memory=True).close()")
    assert not loaded & {"numpy", "pandas", "scipy", "torch"}, loaded & {"numpy", "pandas", "scipy", "torch"}
    assert "numpy" in _loaded_after("import numpy\nimport sbs_tui.core.store")


def test_command_modules_load_no_tui_until_a_command_runs() -> None:
    """import-linter sees the launch commands' lazy imports of the TUI (allowed there by name); this checks they
    stay lazy: importing every command module loads neither textual nor torch."""
    import sbs_tui.commands

    modules = [m.name for m in pkgutil.walk_packages(sbs_tui.commands.__path__, "sbs_tui.commands.")]
    assert "sbs_tui.commands.annotate" in modules and "sbs_tui.commands.review" in modules
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert not loaded & {"textual", "torch", "transformers"}, loaded & {"textual", "torch", "transformers"}


def test_scorers_package_never_imports_textual() -> None:
    pkg = pytest.importorskip("scorers")

    modules = [m.name for m in pkgutil.walk_packages(pkg.__path__, "scorers.")]
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert "textual" not in loaded


def test_presentation_layer_and_settings_load_neither_textual_nor_rich() -> None:
    """``sbs_tui.present`` and ``sbs_tui.config`` are imported by every command: Rich loads only when a table is
    printed, Textual never."""
    tables = ", ".join(f"sbs_tui.present.tables.{m}" for m in ("ab", "agreement", "console", "funnel", "gates",
                                                                 "queue", "rank"))
    loaded = _loaded_after(f"import sbs_tui.present.numbers, sbs_tui.present.text, {tables}, sbs_tui.config")
    assert not loaded & {"textual", "rich", "torch", "numpy"}, loaded & {"textual", "rich", "torch", "numpy"}


RANK_FORBIDDEN = {"scipy.optimize", "pandas", "sklearn", "statsmodels", "torch", "textual", "transformers"}


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_sbs_rank_bt_loads_no_optimizer_and_no_heavy_library(tmp_path, ci: str) -> None:
    """``sbs rank --method bt`` fits with its own Newton steps: scipy.optimize alone cost 0.6 s of a 1.3 s
    ``--ci sandwich`` run, and pandas, scikit-learn, statsmodels, torch and Textual have no business on this path."""
    from sbs_tui.core.records import VoteRecord
    from sbs_tui.core.store import Store

    db = tmp_path / "r.db"
    models = ["m-a", "m-b", "m-c"]
    with Store(db) as store, store.transaction():
        store.votes.insert([VoteRecord(prompt_id=f"p{k}", prompt=f"prompt {k}", model_a=models[k % 3],
                                       model_b=models[(k + 1) % 3], winner=("model_a", "model_b", "tie")[k % 4 % 3],
                                       annotator="ann") for k in range(60)])
    code = ("import sys\nfrom sbs_tui.cli import main\n"
            f"try:\n    main(['--db', {str(db)!r}, 'rank', '--method', 'bt', '--ci', {ci!r}, '--format', 'json'])\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('LOADED', ' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"rating"' in out.stdout  # the ranking really ran
    loaded = set(out.stdout.rpartition("LOADED ")[2].split())
    assert "numpy" in loaded  # the probe sees what the command imported
    heavy = {m for m in loaded if m in RANK_FORBIDDEN or m.split(".")[0] in RANK_FORBIDDEN - {"scipy.optimize"}}
    assert not heavy, sorted(heavy)


def test_an_opened_store_imports_only_the_query_modules_it_reads() -> None:
    """Each concern's query module loads on first use of ``store.<concern>``: opening a store (and reading votes,
    as ``sbs rank`` does) never imports the exports, judges, accounts or arena queries (10–30 ms of every start when
    ``store/__init__`` imported all of them)."""
    code = ("import sys\nfrom sbs_tui.core.store import Store\nstore = Store(memory=True)\n"
            "opened = {m for m in sys.modules if m.startswith('sbs_tui.core.store.')}\n"
            "votes = store.votes\nassert store.votes is votes\n"
            "read = {m for m in sys.modules if m.startswith('sbs_tui.core.store.')}\nstore.exports.conn\n"
            "print(' '.join(sorted(opened)), '|', ' '.join(sorted(read)), '|', 'sbs_tui.core.store.exports' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    opened, read, exports_loaded = (part.split() for part in out.split("|"))
    lazy = {f"sbs_tui.core.store.{m}" for m in ("exports", "judges", "accounts", "arena", "review", "results")}
    assert not lazy & set(opened), sorted(lazy & set(opened))
    assert "sbs_tui.core.store.votes" not in opened and "sbs_tui.core.store.votes" in read
    assert not lazy & set(read), sorted(lazy & set(read))
    assert exports_loaded == ["True"]  # reading the attribute loads its module
    from sbs_tui.core.store import Store

    with Store(memory=True) as store:
        assert store.queue._votes is store.votes  # the queue's votes are the store's, made once
