"""`sbs report`: the whole funnel as self-contained HTML (checked in headless Chromium) and Markdown, built from
the very JSON the commands print, with hostile names shown literally."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

HOSTILE = "<script>alert(1)</script>\x1b[31m|`"


@pytest.fixture
def campaign(cli, tmp_path: Path) -> Path:
    db = tmp_path / "c.db"
    for kind, file in (("generations", "generations.jsonl"), ("votes", "judge_votes.jsonl"),
                       ("ab", "synthetic_ab.csv"), ("benchmarks", "synthetic_benchmarks.csv")):
        assert cli("--db", str(db), "import", kind, str(SAMPLE / file)).exit_code == 0
    hostile = tmp_path / "hostile.jsonl"
    rows = [{"prompt": f"p{i}", "model_a": HOSTILE, "model_b": "gpt4_1106_preview",
             "winner": "model_a" if i % 3 else "model_b", "annotator": "judge-x"} for i in range(12)]
    hostile.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert cli("--db", str(db), "import", "votes", str(hostile)).exit_code == 0
    return db


def test_html_report_is_self_contained_and_matches_the_rank_json(cli, campaign: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = cli("--db", str(campaign), "report", "--out", str(out), "--bootstrap", "50",
                 "--baseline", "gpt4_1106_preview")
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    for heading in ("The funnel", "Ranking (bt", "Pairwise win rate", "Win rate against", "Agreement", "Gates",
                    "A/B results", "Reproduce"):
        assert heading in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert page.count("<svg") >= 1
    ranked = json.loads(cli("--db", str(campaign), "rank", "--bootstrap", "50", "--format", "json").stdout)
    top = ranked["models"][0]
    assert f"{top['rating']:,.0f}" in page, "the report shows the numbers sbs rank prints"
    assert f"{top['win_rate']:,.1f}%" in page


def test_markdown_report_escapes_table_breakers(cli, campaign: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    assert cli("--db", str(campaign), "report", "--out", str(out), "--bootstrap", "0").exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "## Ranking" in text and "## Reproduce" in text
    assert "\\|" in text and "\x1b" not in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    import re

    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line.startswith("|")]
        if lines:  # every row of a table has as many unescaped cell separators as its header
            assert {len(re.findall(r"(?<!\\)\|", line)) for line in lines} == {len(re.findall(r"\|", lines[0]))}


def test_report_errors_are_exit_2(cli, tmp_path: Path, campaign: Path) -> None:
    assert cli("--db", str(campaign), "report", "--out", str(tmp_path / "r.pdf")).exit_code == 2
    assert cli("--db", str(tmp_path / "none.db"), "report", "--out", str(tmp_path / "r.html")).exit_code == 2
    assert not (tmp_path / "none.db").exists()
    bad_dir = cli("--db", str(campaign), "report", "--out", str(tmp_path / "missing" / "r.html"))
    assert bad_dir.exit_code == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_html_report_renders_in_headless_chromium(cli, campaign: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "report.html"
    assert cli("--db", str(campaign), "report", "--out", str(out), "--bootstrap", "50").exit_code == 0
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        assert page.locator("h2").count() >= 5
        box = page.locator("svg").first.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 50
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [out.as_uri()], "the page loads nothing but itself"
    assert (tmp_path / "report.png").stat().st_size > 50_000
