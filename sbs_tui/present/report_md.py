"""``sbs report --out FILE.md``: the report document as Markdown (for a wiki page, a pull request, a ticket).

The same sections as the HTML page, as pipe tables; names pass the literal-text rule and have ``|``, backticks
and HTML escaped so a hostile model name cannot break a table.
"""

from __future__ import annotations

from typing import Any

from sbs_tui.present.report_text import (MIN_CELL_VOTES, counted, fmt, literal_text, p_text, pct, points,
                                         test_name, whole)


def cell(value: Any) -> str:
    text = literal_text(value).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("\n", " ")
    # Markdown renderers pass raw HTML through: a model called <script> must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *["| " + " | ".join(r) + " |" for r in rows], ""]


def render_markdown(report: dict[str, Any]) -> str:
    s = report["sections"]
    out = [f"# {cell(report['title'])}", "",
           f"Generated {report['generated_at']} from `{cell(report['database'])}` · "
           + " · ".join(f"{k} {v:,}" for k, v in report["counts"].items()), ""]
    if report.get("counted"):
        out += [f"Every section counts the same votes: **{counted(report['counted'])}** (`--voters`).", ""]
    funnel = s.get("funnel")
    if funnel and funnel["ok"]:
        doc = funnel["doc"]
        stages = [st["key"] for st in doc["stages"]]
        labels = {st["key"]: st.get("label", st["key"]) for st in doc["stages"]}
        who = f" Side-by-side: {counted(doc)}." if counted(doc) else ""
        out += ["## The funnel", "", f"Each stage's rank of each model (1 = best).{who}", ""]
        out += _table(["Model", *[cell(labels[k]) for k in stages]],
                      [[cell(m["model"]), *[fmt(m["ranks"].get(k), 0) for k in stages]] for m in doc["models"]])
        out += [f"- {cell(n)}" for n in doc.get("notes", [])]
        out += [f"- {cell(d)}" for d in doc.get("disagreements", [])]
        if not doc.get("disagreements") and doc.get("verdict"):
            out += [cell(doc["verdict"])]
        out += [""]
    ranking = s.get("ranking")
    if ranking and ranking["ok"]:
        doc = ranking["doc"]
        out += [f"## Ranking ({doc['method']}, 95% intervals: {doc.get('ci') or 'none'})", "", counted(doc), ""]
        out += _table(["Rank", "Model", "Rating", "95% CI", "Votes", "W", "L", "T", "Win %"],
                      [[str(m["rank"]), cell(m["model"]), fmt(m["rating"], 0),
                        f"{fmt(m.get('ci_low'), 0, lower=True)} – {fmt(m.get('ci_high'), 0, upper=True)}",
                        whole(m["votes"]), whole(m["wins"]), whole(m["losses"]), whole(m["ties"]),
                        points(m.get("win_rate"))] for m in doc["models"]])
        mats = doc.get("matrices") or {}
        if "empirical_win_rate" in mats:
            out += _matrix(mats)
    winrate = s.get("winrate")
    if winrate and winrate["ok"]:
        doc = winrate["doc"]
        out += [f"## Win rate against {cell(doc.get('baseline'))}", "", counted(doc), ""]
        out += _table(["Model", "Win rate %", "95% CI", "Votes"],
                      [[cell(m["model"]), fmt(m.get("rating"), 2),
                        f"{fmt(m.get('ci_low'), 1)} – {fmt(m.get('ci_high'), 1)}", whole(m["votes"])]
                       for m in doc["models"]])
    agreement = s.get("agreement")
    if agreement and agreement["ok"]:
        o = agreement["doc"]["overall"]
        out += ["## Agreement", "", counted(agreement["doc"]), "",
                f"{o['votes']:,} votes on {o['items']:,} items, {o['annotators']} annotators · percent agreement "
                f"{fmt(o.get('percent_agreement'), 1)} · Fleiss κ {fmt(o.get('fleiss_kappa'), 3)} · "
                f"Krippendorff α {fmt(o.get('krippendorff_alpha'), 3)}", ""]
    gates = s.get("gates")
    if gates and gates["ok"]:
        out += ["## Gates", ""]
        out += [f"**Not checked:** {cell(u['sentence'])}" + "  " for u in gates["doc"].get("unchecked", [])]
        out += [""] if gates["doc"].get("unchecked") else []
        out += _table(["Model", "Passed", "Blocked", "Held", "Pending"],
                      [[cell(m), whole(st.get("passed", 0)), whole(st.get("blocked", 0)), whole(st.get("held", 0)),
                        whole(st.get("pending", 0))] for m, st in sorted(gates["doc"]["status"].items())])
    ab = s.get("ab")
    if ab and ab["ok"] and ab["doc"].get("experiments"):
        out += ["## A/B results", ""]
        out += _table(["Experiment", "Metric", "Variant", "Control", "Lift", "p (adjusted)", "Significant", "Test"],
                      [[cell(e["experiment"]), cell(e["metric"]), cell(c["variant"]), cell(e["control"]),
                        pct(c.get("lift"), signed=True), p_text(c.get("p_value_adjusted")),
                        "yes" if c.get("significant") else "no", cell(test_name(c.get("test")))]
                       for e in ab["doc"]["experiments"] for c in e["comparisons"]])
    out += ["## Reproduce", "", "```", *report["commands"], "```", ""]
    if report.get("config"):
        out += ["Configuration in force:", "", "```toml", report["config"].rstrip(), "```", ""]
    return "\n".join(out)


def _matrix(mats: dict[str, Any]) -> list[str]:
    """The pairwise win rates with the votes behind each cell; cells under MIN_CELL_VOTES in italics."""
    names, rates, votes = mats["models"], mats["empirical_win_rate"], mats.get("votes")
    rows = []
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            v = rates[i][j] if i != j else None
            if v is None:
                cells.append("—")
                continue
            n = votes[i][j] if votes else None
            text = f"{v * 100:.0f}% ({whole(n)})" if n is not None else f"{v * 100:.0f}%"
            cells.append(f"_{text}_" if n is not None and n < MIN_CELL_VOTES else text)
        rows.append([f"{i + 1}. {cell(name)}", *cells])
    return ["### Pairwise win rate (row beats column)", "",
            f"Each cell: the win rate and the votes it rests on; in italics below {MIN_CELL_VOTES} votes.", "",
            *_table(["", *[str(k + 1) for k in range(len(names))]], rows)]
