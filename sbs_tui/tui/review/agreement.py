"""The review app's agreement tab: overall κ/α, annotators against the majority of the others (outliers in red),
position bias, judges against the human majority, annotator pairs — the document ``sbs agreement`` prints."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from sbs_tui.core.views import on_db
from sbs_tui.core.views import review as reviews
from sbs_tui.core.scope import described
from sbs_tui.present.numbers import count, finite
from sbs_tui.present.numbers import fixed as fmt
from sbs_tui.present.numbers import p_value as fmt_p
from sbs_tui.tui.review.pane import ReviewPane
from sbs_tui.tui.review.table import SizedTable, Grid, grid, name, put, stripped


class AgreementPane(ReviewPane):
    """Overall κ/α, annotators against the majority of the others (outliers in red), position bias, judges."""

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="agree-overall")
        yield Static("Annotators — agreement with the majority of the others", classes="section")
        yield SizedTable(id="agree-annotators", cursor_type="row", zebra_stripes=True)
        yield Static("Position bias — decisive votes won by the answer shown on the left", classes="section")
        yield SizedTable(id="agree-position", cursor_type="row", zebra_stripes=True)
        yield Static("Judges against the human majority", classes="section")
        yield SizedTable(id="agree-judges", cursor_type="row", zebra_stripes=True)
        yield Static("Annotator pairs — Cohen's κ on the items both judged", classes="section")
        yield SizedTable(id="agree-pairs", cursor_type="row", zebra_stripes=True)
        yield Static(id="agree-notes")

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, reviews.agreement_view, voters=self.voters)

    def status_text(self, doc: dict[str, Any], seconds: float) -> Text:
        return Text(f"{described(doc.get('voters') or 'all', doc.get('votes') or 0)} (v on the ranking tab) · "
                    f"{self.stamp(seconds)}", style="dim")

    def prepare(self, doc: dict[str, Any]) -> dict[str, Grid]:
        """The four tables' cells (the pairs alone are n·(n-1)/2 rows: 190 for 20 annotators), built on the worker
        thread."""
        rows = []
        for a in doc["annotators"]:
            who = name(a["annotator"])
            who.stylize("bold red" if a.get("outlier") else "")
            rows.append([who, a["kind"], count(a["votes"]), count(a["items_with_majority"]),
                         fmt(a.get("majority_agreement")), fmt(a.get("others_majority_agreement")),
                         fmt_p(a.get("p_value_holm", a.get("p_value"))),
                         Text("OUTLIER", style="bold red") if a.get("outlier") else ""])
        grids = {"agree-annotators": grid(["Annotator", "Kind", "Votes", "Items", "Agree %", "Others %",
                                           "p (one-sided, Holm)", ""], rows)}
        rows = []
        for p in doc["position_bias"]:
            p_adj = p.get("p_value_holm", p.get("p_value"))
            biased = (finite(p_adj) or 1.0) < 0.01
            share = Text(fmt(p["left_share"]), style="bold red" if biased else "")
            who = Text("(all)", style="italic") if p["annotator"] == "(all)" else name(p["annotator"])
            rows.append([who, count(p["decisive_votes"]), count(p["left_wins"]), share,
                         fmt_p(p_adj) if p.get("testable", True) else "not testable"])
        grids["agree-position"] = grid(["Annotator", "Decisive votes", "Left wins", "Left %", "p (Holm)"], rows)
        grids["agree-judges"] = grid(["Judge", "Items", "Agree %", "Cohen κ", "Disagreements listed"],
                                     [[name(j["judge"]), count(j["items"]), fmt(j["percent_agreement"]),
                                       fmt(j["cohen_kappa"], 3), count(len(j.get("disagreements") or []))]
                                      for j in doc["judge_vs_humans"]])
        pairs = sorted(doc.get("pairs", []), key=lambda p: finite(p.get("cohen_kappa")) or -2.0)  # worst first
        grids["agree-pairs"] = grid(["Annotator A", "Annotator B", "Items", "Agree %", "Cohen κ"],
                                    [[name(p["annotator_a"]), name(p["annotator_b"]), count(p["items"]),
                                      fmt(p["percent_agreement"]), fmt(p["cohen_kappa"], 3)] for p in pairs])
        return grids

    def show(self, doc: dict[str, Any]) -> None:
        o = doc["overall"]
        overall = Text()
        if not o.get("votes"):
            overall.append("No votes yet: agreement needs votes by two or more annotators on the same pairs "
                           "(sbs queue build --overlap K).", style="italic")
        elif o.get("unavailable_reason"):
            overall.append("Agreement cannot be computed: ", style="bold yellow")
            overall.append_text(name(o["unavailable_reason"]))
            overall.append(f"\n{o['votes']:,} votes on {o['items']:,} items, {o['annotators']} annotator(s)")
        else:
            overall.append(f"{o['votes']:,} votes on {o['items']:,} items ({o['items_multi_annotated']:,} judged by "
                           f"≥ 2 annotators), {o['annotators']} annotators\n")
            overall.append("percent agreement ")
            overall.append(fmt(o.get("percent_agreement")), style="bold")
            overall.append(" · Fleiss κ ")
            overall.append(fmt(o.get("fleiss_kappa"), 3), style="bold")
            overall.append(" · Krippendorff α ")
            overall.append(fmt(o.get("krippendorff_alpha"), 3), style="bold")
            overall.append(" · majority agreement ")
            overall.append(fmt(o.get("pooled_majority_agreement")), style="bold")
        self.query_one("#agree-overall", Static).update(overall)

        grids = self.prepared or self.prepare(doc)
        for table_id, empty in (("agree-annotators", "no annotators with votes yet (v on the ranking tab changes whose "
                                                     "votes count)"),
                                ("agree-position", "no decisive votes with a known left side yet"),
                                ("agree-judges", "no items judged by both a judge and humans yet"),
                                ("agree-pairs", "no two annotators judged the same items yet (sbs queue build "
                                                "--overlap K)")):
            put(self.query_one(f"#{table_id}", DataTable), grids[table_id], empty=empty)
        notes = Text()
        for c in doc.get("order_consistency", []):
            notes.append_text(name(c["annotator"]))
            notes.append(f": same verdict in both orders on {c['consistent']}/{c['items_judged_in_both_orders']} "
                         f"items ({fmt(c['consistency'])}%)\n")
        gold = doc.get("gold") or {}
        if gold.get("available"):
            for g in gold.get("annotators", []):
                notes.append("gold accuracy ")
                notes.append_text(name(g["annotator"]))
                notes.append(f": {fmt(g['accuracy'])}% on {g['items']} items\n")
        elif gold.get("note"):
            notes.append(f"gold: {gold['note']}\n", style="dim")
        for w in doc.get("warnings", []):
            notes.append("⚠ ", style="bold yellow")
            notes.append_text(name(w))
            notes.append("\n")
        self.note("#agree-notes", stripped(notes))
