"""``sbs report --out FILE.html``: the report document as one self-contained HTML page.

Self-contained on purpose: a report is mailed, attached to a release ticket and opened years later, so it loads
nothing at view time — the styles are inline, the plots are inline SVG drawn here (no JavaScript, no CDN, no
fonts), and every name from user data is HTML-escaped after the literal-text rule, so a model called
``<script>`` or ``\\x1b[31m`` is shown, never run.
"""

from __future__ import annotations

import html
import math
from typing import Any

from sbs_tui.present.report_text import (MIN_CELL_VOTES, counted, fmt, literal_text, p_text, pct, points,
                                         test_name, whole)

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1d2329;
padding:0 1rem}h1{font-size:1.6rem}h2{border-bottom:2px solid #dde3e8;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #dde3e8;padding:.25rem .5rem}
th{background:#f3f6f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#66717a}.warn{color:#a15c00}pre{background:#f3f6f8;padding:.8rem;overflow-x:auto}
svg text{font-family:system-ui,sans-serif;font-size:12px}.chip{display:inline-block;padding:0 .4rem;
border-radius:.3rem;background:#eef2f5;margin-right:.3rem}
"""


def esc(value: Any) -> str:
    return html.escape(literal_text(value), quote=True)


def render_html(report: dict[str, Any]) -> str:
    s = report["sections"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(report['title'])}</title>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<style>{CSS}</style></head><body>",
             f"<h1>{esc(report['title'])}</h1>",
             f"<p class='muted'>Generated {esc(report['generated_at'])} from <code>{esc(report['database'])}</code>"
             " · " + " ".join(f"<span class='chip'>{esc(k)} {v:,}</span>" for k, v in report["counts"].items())
             + "</p>"]
    if report.get("counted"):
        parts.append(f"<p>Every section counts the same votes: <b>{esc(counted(report['counted']))}</b> "
                     "(<code>--voters</code>).</p>")
    parts += _funnel(s.get("funnel"))
    parts += _ranking(s.get("ranking"))
    parts += _winrate(s.get("winrate"))
    parts += _agreement(s.get("agreement"))
    parts += _gates(s.get("gates"))
    parts += _ab(s.get("ab"))
    parts.append("<h2>Reproduce</h2><p>Each section above is the JSON output of one of these commands:</p><pre>"
                 + "\n".join(esc(c) for c in report["commands"]) + "</pre>")
    if report.get("config"):
        parts.append(f"<p>Configuration in force:</p><pre>{esc(report['config'])}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _missing(section: dict[str, Any] | None, title: str) -> list[str] | None:
    if section is None:
        return [f"<h2>{title}</h2><p class='muted'>No data for this stage.</p>"]
    if not section["ok"]:
        return [f"<h2>{title}</h2><p class='warn'>Not computed: {esc(section['why'])}</p>"]
    return None


def _table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td class='n'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _funnel(section: dict[str, Any] | None) -> list[str]:
    if (missing := _missing(section, "The funnel")) is not None:
        return missing
    assert section is not None  # _missing returned None
    doc = section["doc"]
    stages = [st["key"] for st in doc["stages"]]
    labels = {st["key"]: st.get("label", st["key"]) for st in doc["stages"]}
    who = f" Side-by-side: {esc(counted(doc))}." if counted(doc) else ""
    out = [f"<h2>The funnel</h2><p>Each stage's rank of each model (1 = best), and gate pass rates.{who}</p>"]
    rows = []
    for m in doc["models"]:
        gates = m.get("gates") or {}
        rows.append([esc(m["model"]), *[fmt(m["ranks"].get(k), 0) for k in stages],
                     pct(gates.get("pass_rate")) if isinstance(gates, dict) else "—"])
    out.append(_table(["Model", *[esc(labels[k]) for k in stages], "Gates passed"], rows,
                      set(range(1, len(stages) + 2))))
    for c in doc.get("correlations", []):
        pair = " vs ".join(labels.get(k, k) for k in c.get("stages", []))
        out.append(f"<p>{esc(pair)}: Spearman ρ {fmt(c.get('spearman'), 2)} "
                   f"(p {fmt(c.get('spearman_p'), 3)}), Kendall τ {fmt(c.get('kendall'), 2)} "
                   f"over {c.get('n', 0)} models. <span class='muted'>{esc(c.get('note') or '')}</span></p>")
    if doc.get("disagreements"):
        out.append("<p><b>Where the stages disagree</b></p><ul>"
                   + "".join(f"<li>{esc(d)}</li>" for d in doc["disagreements"]) + "</ul>")
    elif doc.get("verdict"):
        out.append(f"<p>{esc(doc['verdict'])}</p>")
    return out


def _ranking(section: dict[str, Any] | None) -> list[str]:
    if (missing := _missing(section, "Ranking (Bradley-Terry)")) is not None:
        return missing
    assert section is not None  # _missing returned None
    doc = section["doc"]
    models = doc["models"]
    out = [f"<h2>Ranking ({esc(doc['method'])}, 95% intervals: {esc(doc.get('ci') or 'none')})</h2>",
           f"<p class='muted'>{esc(counted(doc))}</p>" if counted(doc) else "", _ci_plot(models)]
    rows = [[str(m["rank"]), esc(m["model"]), fmt(m["rating"], 0),
             f"{fmt(m.get('ci_low'), 0, lower=True)} – {fmt(m.get('ci_high'), 0, upper=True)}",
             whole(m["votes"]), whole(m["wins"]), whole(m["losses"]), whole(m["ties"]), points(m.get("win_rate"))]
            for m in models]
    out.append(_table(["Rank", "Model", "Rating", "95% CI", "Votes", "W", "L", "T", "Win %"], rows,
                      {0, 2, 3, 4, 5, 6, 7, 8}))
    mats = doc.get("matrices")
    if mats and "empirical_win_rate" in mats:
        out.append("<h3>Pairwise win rate (row beats column)</h3>"
                   f"<p class='muted'>Each cell: the row model's win rate against the column model, and the votes "
                   f"it rests on; greyed below {MIN_CELL_VOTES} votes.</p>" + _heatmap(mats))
    return out


def _ci_plot(models: list[dict[str, Any]]) -> str:
    """Ratings with interval whiskers, best first; an unbounded side (null) runs to the edge with an arrow."""
    finite = [v for m in models for v in (m["rating"], m.get("ci_low"), m.get("ci_high"))
              if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    pad = max((hi - lo) * 0.08, 10)
    lo, hi = lo - pad, hi + pad
    label_w, plot_w, row_h = 260, 560, 22
    height = row_h * len(models) + 30

    def x(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + plot_w + 20}' height='{height}' "
             "role='img' aria-label='ratings with 95% intervals'>"]
    for tick in _ticks(lo, hi):
        parts.append(f"<line x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='0' y2='{height - 20}' stroke='#eef2f5'/>"
                     f"<text x='{x(tick):.1f}' y='{height - 5}' text-anchor='middle' fill='#66717a'>{tick:g}</text>")
    for i, m in enumerate(models):
        y = 14 + i * row_h
        low = m.get("ci_low")
        high = m.get("ci_high")
        x1 = x(low) if low is not None else label_w
        x2 = x(high) if high is not None else label_w + plot_w
        parts.append(f"<text x='{label_w - 8}' y='{y + 4}' text-anchor='end'>{esc(m['model'])[:40]}</text>")
        parts.append(f"<line x1='{x1:.1f}' x2='{x2:.1f}' y1='{y}' y2='{y}' stroke='#4a6fa5' stroke-width='2'/>")
        for edge, bounded in ((x1, low is not None), (x2, high is not None)):
            if bounded:
                parts.append(f"<line x1='{edge:.1f}' x2='{edge:.1f}' y1='{y - 5}' y2='{y + 5}' stroke='#4a6fa5'/>")
            else:
                d = -6 if edge == label_w else 6
                parts.append(f"<path d='M{edge:.1f},{y} l{-d},-5 l0,10 z' fill='#4a6fa5'/>")
        parts.append(f"<circle cx='{x(m['rating']):.1f}' cy='{y}' r='4' fill='#1d2329'/>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(lo: float, hi: float) -> list[float]:
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9)))
    while (hi - lo) / step > 8:
        step *= 2
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step) + 1)]


def _heatmap(mats: dict[str, Any]) -> str:
    names = mats["models"]
    rates = mats["empirical_win_rate"]
    votes = mats.get("votes")
    head = "<th></th>" + "".join(f"<th>{esc(n)[:18]}</th>" for n in names)
    rows = []
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            v = rates[i][j] if i != j else None
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                cells.append("<td class='n muted'>—</td>")
                continue
            n = votes[i][j] if votes else None
            if n is not None and n < MIN_CELL_VOTES:  # too few votes to colour by: grey, count shown
                cells.append(f"<td class='n muted' style='background:#f3f6f8'>{v * 100:.0f}% ({whole(n)})</td>")
                continue
            # white at 50%, green above, red below
            g = int(255 - abs(v - 0.5) * 2 * 120)
            color = f"rgb({g},255,{g})" if v >= 0.5 else f"rgb(255,{g},{g})"
            shown = f" ({whole(n)})" if n is not None else ""
            cells.append(f"<td class='n' style='background:{color}'>{v * 100:.0f}%{shown}</td>")
        rows.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _winrate(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return []
    if (missing := _missing(section, "Win rate against the baseline")) is not None:
        return missing
    doc = section["doc"]
    rows = [[esc(m["model"]), points(m.get("rating")),
             f"{fmt(m.get('ci_low'), 1)} – {fmt(m.get('ci_high'), 1)}", whole(m["votes"])] for m in doc["models"]]
    return [f"<h2>Win rate against {esc(doc.get('baseline'))} (AlpacaEval definition)</h2>",
            f"<p class='muted'>{esc(counted(doc))}</p>" if counted(doc) else "",
            _table(["Model", "Win rate", "95% CI", "Votes"], rows, {1, 2, 3})]


def _agreement(section: dict[str, Any] | None) -> list[str]:
    if (missing := _missing(section, "Agreement")) is not None:
        return missing
    assert section is not None  # _missing returned None
    doc = section["doc"]
    o = doc["overall"]
    out = ["<h2>Agreement</h2>", f"<p class='muted'>{esc(counted(doc))}</p>" if counted(doc) else "",
           f"<p>{o['votes']:,} votes on {o['items']:,} items ({o['items_multi_annotated']:,} judged by ≥ 2), "
           f"{o['annotators']} annotators · percent agreement {fmt(o.get('percent_agreement'), 1)} · "
           f"Fleiss κ {fmt(o.get('fleiss_kappa'), 3)} · Krippendorff α {fmt(o.get('krippendorff_alpha'), 3)}</p>"]
    if doc.get("pairs"):
        out.append(_table(["Annotator A", "Annotator B", "Items", "Agree %", "Cohen κ"],
                          [[esc(p["annotator_a"]), esc(p["annotator_b"]), str(p["items"]),
                            fmt(p.get("percent_agreement"), 1), fmt(p.get("cohen_kappa"), 3)] for p in doc["pairs"]],
                          {2, 3, 4}))
    if doc.get("position_bias"):
        out.append("<h3>Position bias</h3>" + _table(
            ["Annotator", "Decisive votes", "Left %", "p"],
            [[esc(p["annotator"]), f"{p.get('decisive_votes', 0):,}", fmt(p.get("left_share"), 1),
              p_text(p.get("p_value"))] for p in doc["position_bias"]], {1, 2, 3}))
    return out


def _gates(section: dict[str, Any] | None) -> list[str]:
    if (missing := _missing(section, "Gates")) is not None:
        return missing
    assert section is not None  # _missing returned None
    doc = section["doc"]
    gates = sorted({g for per in doc["pass_rates"].values() for g in per})
    rows = []
    for model, status in sorted(doc["status"].items()):
        per = doc["pass_rates"].get(model, {})
        rows.append([esc(model), whole(status.get("passed", 0)), whole(status.get("blocked", 0)),
                     whole(status.get("held", 0)), whole(status.get("pending", 0)),
                     *[pct(per[g]["passed"] / per[g]["total"]) if g in per and per[g]["total"] else "—"
                       for g in gates]])
    unchecked = [f"<p class='warn'><strong>Not checked:</strong> {esc(u['sentence'])}</p>"
                 for u in doc.get("unchecked", [])]
    return ["<h2>Gates</h2>", *unchecked,
            "<p>Generations per model by gate decision (held: waiting for a lead's review), and each gate's pass "
            "rate.</p>",
            _table(["Model", "Passed", "Blocked", "Held", "Pending", *[esc(g) for g in gates]], rows,
                   set(range(1, 5 + len(gates))))]


def _ab(section: dict[str, Any] | None) -> list[str]:
    if (missing := _missing(section, "A/B results")) is not None:
        return missing
    assert section is not None  # _missing returned None
    experiments = section["doc"].get("experiments", [])
    if not experiments:
        return ["<h2>A/B results</h2><p class='muted'>No A/B results imported.</p>"]
    rows = []
    for e in experiments:
        for c in e["comparisons"]:
            rows.append([esc(e["experiment"]), esc(e["metric"]), esc(c["variant"]), esc(e["control"]),
                         f"{c.get('n') or 0:,}", pct(c.get("lift"), signed=True),
                         f"{fmt(c.get('ci_low'), 4)} – {fmt(c.get('ci_high'), 4)}", p_text(c.get("p_value_adjusted")),
                         "yes" if c.get("significant") else "no", esc(test_name(c.get("test")))])
    return ["<h2>A/B results</h2>",
            _table(["Experiment", "Metric", "Variant", "Control", "n", "Lift", "Difference 95% CI",
                    "p (adjusted)", "Significant", "Test"], rows, {4, 5, 6, 7})]
