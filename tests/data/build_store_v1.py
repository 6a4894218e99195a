"""Build ``tests/data/store_v1.sql``: a database written by the store before it became a package (commit 180c5a1),
as an SQL dump, so tests can check that such a database upgrades. Run it against that version's tree::

    mkdir /tmp/v1 && git archive 180c5a1 sbs_tui | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1 python tests/data/build_store_v1.py > tests/data/store_v1.sql
"""
import sys
from sbs_tui.core.ingest.results import ABAggregateRecord, ABUnitRecord, BenchmarkRecord
from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
from sbs_tui.core.store import Store
import sbs_tui.core.store as st
assert st.__file__.endswith("store.py"), "run against the pre-package tree (see above)"
s = Store(memory=True)
with s.transaction():
    s.insert_generations([GenerationRecord(prompt_id_for(q), q, m, f"{m} answers {q}") for q in ("q1", "q2")
                          for m in ("alpha", "beta")])
    s.insert_votes([VoteRecord(prompt_id_for("q1"), "q1", "alpha", "beta", "model_a", "judge", annotator_kind="judge"),
                    VoteRecord(prompt_id_for("q2"), "q2", "alpha", "beta", "tie", "ann", ts="2026-01-01T00:00:00Z")])
    s.insert_benchmarks([BenchmarkRecord("alpha", "mmlu", "acc", 0.5, stderr=0.01, higher_is_better=True)])
    s.insert_ab_units([ABUnitRecord("exp", "control", "u1", "ctr", 1.0)])
    s.insert_ab_aggregates([ABAggregateRecord("exp", "control", "conv", 100, successes=12)])
    s.set_gate_status(s.generation_ids(), "passed")
    s.save_gate_results([(1, "toxicity", "h1", s.conn.execute("select output_sha from generations where id=1").fetchone()[0], 0.1, False, {"k": 1})])
    s.set_queue_config({"overlap": 1})
# stable timestamps, so the dump is reproducible
s.conn.execute("UPDATE _migrations SET applied_at = '2026-12-01T00:00:00.000Z'")
s.conn.execute("UPDATE generations SET imported_at = '2026-12-01T00:00:00.000Z'")
s.conn.execute("UPDATE gate_results SET scored_at = '2026-12-01T00:00:00.000Z'")
sys.stdout.write("\n".join(s.conn.iterdump()) + "\n")
