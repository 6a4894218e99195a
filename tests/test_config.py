"""Typed settings (the schema sbs_tui/core/settings.py, loaded by sbs_tui/config.py): every section is a dataclass; unknown sections, keys and SBS_* variables,
and values of the wrong type, are errors that name the file, line, section and key (exit 2), with a did-you-mean."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sbs_tui import config
from sbs_tui.config import AnnotateSettings, QueueSettings, Settings, load_settings, parse_settings
from sbs_tui.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sbs.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, field, line, message", [
    ("[annotate]\nreveal_after_vot = true\n", "annotate.reveal_after_vot", 2, "did you mean 'reveal_after_vote'"),
    ("[queue]\nseed = 1\noverlapp = 3\n", "queue.overlapp", 3, "did you mean 'overlap'"),
    ("[gatess.toxicity]\nthreshold = 0.5\n", "gatess", 1, "unknown section [gatess.toxicity]; did you mean "
                                                          "[gates.toxicity]"),
    ("[gating]\nrequire = false\n", "gating.require", 2, "did you mean 'required'"),
    ("[annotate.keys]\nvote_lef = \"j\"\n", "annotate.keys.vote_lef", 2, "did you mean 'vote_left'"),
    ("[annotate]\n[annotate.kyes]\nvote_left = \"j\"\n", "annotate.kyes", 2, "did you mean 'keys'"),
    ("queue = 3\n", "queue", 1, "must be a table"),
    ("[gates]\ntoxicity = 0.5\n", "gates.toxicity", 2, "must be a table"),
])
def test_unknown_sections_and_keys_are_errors_naming_file_line_and_key(tmp_path, text, field, line, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_settings(path)
    err = exc.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert message in err.message


@pytest.mark.parametrize("text, field, message", [
    ('[queue]\noverlap = "three"\n', "queue.overlap", "must be an integer, not a string ('three')"),
    ('[annotate]\nreveal_after_vote = "yes"\n', "annotate.reveal_after_vote", "must be true or false"),
    ("[annotate]\nmarkdown = 1\n", "annotate.markdown", "must be true or false, not an integer"),
    ('[gating]\nrequired = "false"\n', "gating.required", "must be true or false"),
    ("[queue]\noverlap = true\n", "queue.overlap", "must be an integer, not a boolean"),
    ("[queue]\noverlap = 0\n", "queue.overlap", "must be at least 1"),
    ("[queue]\ngold_rate = 1.0\n", "queue.gold_rate", "below 1"),
    ("[queue]\ngold_rate = nan\n", "queue.gold_rate", "finite"),
    ('[queue]\nstrategy = "activ"\n', "queue.strategy", "did you mean 'active'"),
    ("[queue]\nidentity_patterns = 'x'\n", "queue.identity_patterns", "list of non-empty strings"),
    ("[annotate]\ncriteria = [1, 2]\n", "annotate.criteria", "list of non-empty strings"),
    ("[annotate]\ntruncate_chars = 10\n", "annotate.truncate_chars", "at least 1000"),
    ('[annotate.keys]\nvote_left = ""\n', "annotate.keys.vote_left", "key name"),
    ('[gates.toxicity]\nthreshold = "high"\n', "gates.toxicity.threshold", "must be a number"),
    ("[gates.toxicity]\nblocking = 1\n", "gates.toxicity.blocking", "true or false"),
    ("[gates.toxicity]\nthreshold = inf\n", "gates.toxicity.threshold", "finite"),
    ("[gates.x]\nscorer = 3\n", "gates.x.scorer", "must be a string"),
])
def test_strict_types(tmp_path, text, field, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_settings(path)
    assert exc.value.field == field and exc.value.file == str(path) and message in exc.value.message


def test_a_valid_file_gives_typed_sections(tmp_path):
    path = _write(tmp_path, """
[gating]
required = false

[annotate]
criteria = [" helpfulness ", "harmlessness"]
reveal_after_vote = true
truncate_chars = 5000

[annotate.keys]
vote_left = "j"

[queue]
overlap = 3
strategy = "active"
gold_rate = 0
identity_patterns = ['\\bWidgetBot\\b']

[gates.toxicity]
backend = "hf"
model = "/models/x"
threshold = 0.7
blocking = true
labels = ["toxic"]           # a scorer option: checked by the scorer when it is built
""")
    s = load_settings(path)
    assert s.gating.required is False
    assert s.annotate == AnnotateSettings(criteria=("helpfulness", "harmlessness"), keys={"vote_left": "j"},
                                          reveal_after_vote=True, truncate_chars=5000)
    assert s.queue.overlap == 3 and s.queue.strategy == "active" and s.queue.gold_rate == 0.0
    assert isinstance(s.queue.gold_rate, float) and s.queue.seed == QueueSettings().seed
    assert s.queue.identity_patterns == ("\\bWidgetBot\\b",)
    assert s.gates["toxicity"]["labels"] == ["toxic"]
    assert Settings() == parse_settings({}) and Settings().queue == QueueSettings()


def test_environment_overrides_the_file_strictly(tmp_path):
    path = _write(tmp_path, "[queue]\noverlap = 2\n[gating]\nrequired = true\n")
    env = {"SBS_QUEUE_OVERLAP": "5", "SBS_GATING_REQUIRED": "off", "SBS_ANNOTATE_REVEAL_AFTER_VOTE": "yes",
           "SBS_DB": "x.db", "SBS_CACHE_DIR": "/tmp", "SBS_QUEUE_SEED": ""}
    s = load_settings(path, env=env)
    assert s.queue.overlap == 5 and s.gating.required is False and s.annotate.reveal_after_vote is True
    assert s.queue.seed == QueueSettings().seed  # empty = unset
    for var, value, message in [("SBS_GATING_REQUIRED", "maybe", "must be one of"),
                                ("SBS_QUEUE_OVERLAP", "three", "must be an integer"),
                                ("SBS_QUEUE_OVERLAP", "0", "at least 1"),
                                ("SBS_QUEUE_GOLD_RATE", "nan", "finite"),
                                ("SBS_QUEUE_OVERLAPP", "3", "did you mean 'SBS_QUEUE_OVERLAP'")]:
        with pytest.raises(InputError) as exc:
            load_settings(path, env={var: value})
        assert exc.value.field in (var, "queue.overlap", "queue.gold_rate") and message in exc.value.message, var


def test_the_environment_is_read_when_settings_are_loaded(monkeypatch):
    monkeypatch.setenv("SBS_ANNOTATE_MARKDOWN", "false")
    assert load_settings().annotate.markdown is False
    assert Settings().annotate.markdown is True  # the schema's defaults: no hidden input
    assert parse_settings({"queue": {"overlap": 4}}).queue.overlap == 4


@pytest.mark.parametrize("text, expected", [
    ("[annotate]\nreveal_after_vot = true\n", "sbs.toml:2: field 'annotate.reveal_after_vot': unknown key"),
    ("[queue]\noverlapp = 3\n", "sbs.toml:2: field 'queue.overlapp': unknown key in [queue]; did you mean"),
    ("[gatess.toxicity]\nthreshold = 0.5\n", "sbs.toml:1: field 'gatess': unknown section [gatess.toxicity]"),
    ('[queue]\noverlap = "three"\n', "sbs.toml:2: field 'queue.overlap': must be an integer"),
])
@pytest.mark.parametrize("command", [["rank"], ["queue", "build"], ["annotate", "--annotator", "a"], ["gate"]])
def test_every_command_refuses_a_bad_config_with_exit_2(cli, tmp_path, text, expected, command):
    path = _write(tmp_path, text)
    db = tmp_path / "none.db"
    result = cli("--db", str(db), "--config", str(path), *command)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not db.exists()


def test_env_config_and_help_with_a_broken_config(cli, tmp_path, monkeypatch):
    path = _write(tmp_path, "[queue]\noverlapp = 3\n")
    monkeypatch.setenv("SBS_CONFIG", str(path))
    assert cli("--db", str(tmp_path / "x.db"), "rank").exit_code == 2
    helped = cli("rank", "--help")  # help still works, so the user can find the right key
    assert helped.exit_code == 0 and "--method" in helped.stdout


def _documented_sections():
    """Every section of the schema, ``[models.NAME]`` (one class for each table) included."""
    from sbs_tui.core.settings import TABLE_SECTIONS

    assert {"arena"} <= set(config.SECTIONS) and set(TABLE_SECTIONS) == {"models"}
    return {**config.SECTIONS, **{f"{name}.NAME": cls for name, cls in TABLE_SECTIONS.items()}}


def test_every_key_is_documented():
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, cls in _documented_sections().items():
        assert f"[{section}]" in doc
        for f in dataclasses.fields(cls):
            assert re.search(rf"`{f.name}`", doc), f"{section}.{f.name} is not in docs/configuration.md"
    for key in config.GATE_POLICY_KEYS:
        assert f"`{key}`" in doc
    for action in config.ANNOTATE_ACTIONS:
        assert action in doc
    assert "SBS_QUEUE_OVERLAP" in doc and "[gates.NAME]" in doc


def test_feature_sections_match_the_keys_their_modules_read(tmp_path):
    """[judge] and [policy] are typed here and read by their feature modules: the two lists must not drift."""
    from sbs_tui.core.gates import policy as gating
    from sbs_tui.core.judge import judging

    assert not hasattr(judging, "KEYS") and not hasattr(judging, "SECTION")  # the schema is the only key list
    s = load_settings(_write(tmp_path, '[policy]\nuncovered = "block"\n[judge]\nmodel = "m"\ntop_logprobs = 5\n'))
    assert s.policy.uncovered == "block" and gating.uncovered_policy(s) == "block"
    assert s.judge.model == "m" and judging.judge_config(s.judge).top_logprobs == 5
    for text, field_name in [('[policy]\nuncovered = "revew"\n', "policy.uncovered"),
                             ("[judge]\ntop_logprobs = 50\n", "judge.top_logprobs"),
                             ('[judge]\nmodle = "m"\n', "judge.modle")]:
        with pytest.raises(InputError) as exc:
            load_settings(_write(tmp_path, text))
        assert exc.value.field == field_name



@pytest.mark.parametrize("text, field, message", [
    ("[gates.toxicty]\nthreshold = 0.5\n", "gates.toxicty.scorer", "unknown scorer 'toxicty'; did you mean "
                                                                    "'toxicity'"),
    ("[gates.toxicity]\nthreshhold = 0.5\n", "gates.toxicity.threshhold", "did you mean 'threshold'"),
    ("[gates.x]\nscorer = \"lexicn\"\n", "gates.x.scorer", "did you mean 'lexicon'"),
])
@pytest.mark.parametrize("command", [["rank"], ["funnel"], ["queue", "status"]])
def test_gate_table_typos_are_errors_for_every_command(cli, tmp_path, text, field, message, command):
    """Issue 17 §2: not only the gate commands — `sbs rank` with a misspelt gate is exit 2 too."""
    path = _write(tmp_path, text)
    result = cli("--db", str(tmp_path / "none.db"), "--config", str(path), *command)
    assert result.exit_code == 2
    assert f"field '{field}'" in result.stderr and message in result.stderr, result.stderr


def _shown(value):
    if value is None:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[]`" if not value else f"`{list(value)}`"
    return f"`{value}`"


def test_the_documented_defaults_are_the_schemas():
    """docs/configuration.md's default column is checked against the one declaration of each key."""
    from sbs_tui.core.settings import default_of

    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, cls in _documented_sections().items():
        for f in dataclasses.fields(cls):
            row = re.search(rf"^\| `{f.name}` \| [^|]+ \| ([^|]+) \|", doc.split(f"## `[{section}]`")[1], re.M)
            assert row, f"{section}.{f.name}: no row with a default column"
            assert row.group(1).strip() == _shown(default_of(cls, f.name)), (section, f.name, row.group(1))


def test_models_and_arena_are_typed_sections(tmp_path):
    """Issue 18: ``[models.NAME]`` and ``[arena]`` are typed by the one schema like every section (their feature
    modules keep no key tables of their own), ``[arena]`` has ``SBS_ARENA_*`` variables, and a
    ``[models.NAME]`` range error names the file, the line and ``models.NAME.key``."""
    from sbs_tui.core.generate import arena, generation
    from sbs_tui.core.settings import ArenaSettings, ModelSettings

    assert not hasattr(generation, "KEYS") and not hasattr(arena, "KEYS")
    s = load_settings(_write(tmp_path, '[models.ckpt-7]\nbase_url = "http://h/v1"\nrequests_per_minute = 30\n'
                                       '[arena]\nmodels = ["ckpt-7", " b "]\n'),
                      env={"SBS_ARENA_BATTLES_PER_MINUTE": "3"})
    assert s.models == {"ckpt-7": ModelSettings(base_url="http://h/v1", requests_per_minute=30.0)}
    assert s.arena == ArenaSettings(models=("ckpt-7", "b"), battles_per_minute=3.0)
    with pytest.raises(InputError) as exc:
        load_settings(_write(tmp_path, '[models.ckpt-7]\nbase_url = "http://h/v1"\n\ntemperature = -1\n'))
    assert (exc.value.field, exc.value.line) == ("models.ckpt-7.temperature", 4)
    with pytest.raises(InputError, match="models.top_p"):
        ModelSettings(top_p=1.01)  # however it is made, not only from the file
