"""One RankRequest carries the ranking options and the rules between them, for the CLI and the review app."""

from __future__ import annotations

import click
import pytest

from sbs_tui.core.ranking.request import CIS, CONTROLS, METHODS, RankRequest
from sbs_tui.errors import InputError


@pytest.mark.parametrize(("request_", "field", "message"), [
    (RankRequest(method="elo", control="length"), "--control", "--control length applies to --method bt or winrate"),
    (RankRequest(method="trueskill", control="style"), "--control",
     "--control style applies to --method bt or winrate"),
    (RankRequest(method="winrate", baseline="m", control="style"), "--control",
     "--control style applies to --method bt (use --control length for winrate)"),
    (RankRequest(method="glicko"), "--method", "must be one of bt, elo, trueskill, winrate"),
])
def test_invalid_combinations_are_one_input_error_naming_the_option(request_, field, message) -> None:
    with pytest.raises(InputError) as err:
        request_.validate()
    assert err.value.field == field and err.value.message == message


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("control", CONTROLS)
def test_the_app_and_the_cli_apply_the_same_rules(method, control) -> None:
    request = RankRequest(method=method, control=control, baseline="m")
    try:
        request.validate()
        cli_ok = True
    except InputError:
        cli_ok = False
    assert cli_ok == (request.problem() is None)
    # the app picks a baseline for win rate itself: only the control rules are problems there
    assert (RankRequest(method=method, control=control).problem() is None) == cli_ok


def test_one_definition_of_the_choices() -> None:
    from sbs_tui.cli import cli

    ctx = click.Context(cli)
    for name in ("rank", "review"):
        command = cli.get_command(ctx, name)
        params = {p.name: p for p in command.params}
        assert tuple(params["method"].type.choices) == METHODS
        assert tuple(params["ci"].type.choices) == CIS
        assert tuple(params["control"].type.choices) == CONTROLS
    # the review app's pickers are a RankRequest itself (no second name for it)
    from sbs_tui.tui.review import ranking as review_panes
    assert review_panes.RankRequest is RankRequest
    from sbs_tui.tui.review.ranking import RankingPane
    assert type(RankingPane("x.db").options) is RankRequest
    assert (review_panes.METHODS, review_panes.CIS, review_panes.CONTROLS) == (METHODS, CIS, CONTROLS)


def test_defaults_are_sbs_rank_defaults() -> None:
    from sbs_tui.cli import cli
    from sbs_tui.cli_params import rank_request

    command = cli.get_command(click.Context(cli), "rank")
    ctx = click.Context(command)
    defaults = {p.name: p.get_default(ctx) for p in command.params if p.name != "fmt"}
    defaults["annotators"] = ()  # multiple=True: an empty tuple when not given
    assert rank_request(**defaults) == RankRequest()


def test_winrate_without_baseline_is_valid_and_picks_the_most_compared_model() -> None:
    """Issue 9.7: `sbs rank --method winrate` and the review app choose the baseline the same way (api.default_baseline)
    instead of one erroring and the other guessing."""
    assert RankRequest(method="winrate").validate().baseline is None
