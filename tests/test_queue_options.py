"""`sbs queue build` options: merged (command line > the queue's stored config > [queue] > default) and
validated once, in BuildOptions, whoever builds the queue."""

from __future__ import annotations

import pytest
from tests.annotate_helpers import make_store

from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.settings import QueueSettings
from sbs_tui.errors import InputError


def test_each_option_comes_from_the_first_place_that_sets_it() -> None:
    given = {"overlap": 3, "seed": None, "strategy": None}
    stored = {"overlap": 2, "seed": 7, "default_cap": 40}
    section = QueueSettings(overlap=5, seed=9, strategy="active", gold_rate=0.0)
    options = BuildOptions.resolve(given, stored, section)
    assert (options.overlap, options.seed, options.strategy, options.cap) == (3, 7, "active", 40)
    assert BuildOptions.resolve({}, {}, QueueSettings()).overlap == QueueSettings().overlap == BuildOptions().overlap


@pytest.mark.parametrize(("options", "field"), [
    (dict(overlap=0), "queue.overlap"),
    (dict(gold_rate=1.0, gold_from="judge"), "queue.gold_rate"),
    (dict(strategy="smart"), "queue.strategy"),
    (dict(gold_rate=0.1), "queue.gold_rate"),
])
def test_the_core_rejects_what_the_command_rejects(tmp_path, options, field) -> None:
    store = make_store(tmp_path / "q.db", prompts=1, build=False)
    try:
        with pytest.raises(InputError) as err:
            build_queue(store, BuildOptions(**options))
        assert err.value.field == field
        assert store.queue.summary()["pairs"] == 0  # nothing half-built
    finally:
        store.close()


def test_a_config_value_of_the_wrong_type_is_one_error_line(cli, tmp_path) -> None:
    db = tmp_path / "q.db"
    make_store(db, prompts=1, build=False).close()
    config = tmp_path / "sbs.toml"
    config.write_text('[queue]\noverlap = "three"\n')
    result = cli("--db", str(db), "--config", str(config), "queue", "build")
    assert result.exit_code == 2
    # the typed settings check the file up front, with its line
    assert result.stderr.strip() == f"error: {config}:2: field 'queue.overlap': must be an integer, not a string ('three')"


def test_strategy_from_the_config_is_checked_and_named(cli, tmp_path) -> None:
    db = tmp_path / "q.db"
    make_store(db, prompts=1, build=False).close()
    config = tmp_path / "sbs.toml"
    config.write_text('[queue]\nstrategy = "smart"\n')
    result = cli("--db", str(db), "--config", str(config), "queue", "build")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {config}:2: field 'queue.strategy': must be one of uniform, active, "
                                     "not 'smart'")
