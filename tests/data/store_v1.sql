BEGIN TRANSACTION;
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
INSERT INTO "_migrations" VALUES('0001_core','2026-12-01T00:00:00.000Z');
INSERT INTO "_migrations" VALUES('0002_queue','2026-12-01T00:00:00.000Z');
INSERT INTO "_migrations" VALUES('0050_benchmark_ab_details','2026-12-01T00:00:00.000Z');
INSERT INTO "_migrations" VALUES('rank_0001_outcome_index','2026-12-01T00:00:00.000Z');
INSERT INTO "_migrations" VALUES('0003_gate_results','2026-12-01T00:00:00.000Z');
CREATE TABLE ab_aggregates (
            id INTEGER PRIMARY KEY,
            experiment TEXT NOT NULL,
            variant TEXT NOT NULL,
            metric TEXT NOT NULL,
            n INTEGER NOT NULL,
            mean REAL,
            std REAL,
            successes REAL,
            source TEXT, meta TEXT,
            UNIQUE (experiment, variant, metric)
        );
INSERT INTO "ab_aggregates" VALUES(1,'exp','control','conv',100,NULL,NULL,12.0,NULL,NULL);
CREATE TABLE ab_units (
            id INTEGER PRIMARY KEY,
            experiment TEXT NOT NULL,
            variant TEXT NOT NULL,
            unit TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL NOT NULL,
            source TEXT, meta TEXT,
            UNIQUE (experiment, variant, unit, metric)
        );
INSERT INTO "ab_units" VALUES(1,'exp','control','u1','ctr',1.0,NULL,NULL);
CREATE TABLE annotator_caps (
            annotator_id INTEGER PRIMARY KEY REFERENCES annotators(id),
            max_votes INTEGER NOT NULL CHECK (max_votes >= 0)
        );
CREATE TABLE annotators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'judge')),
            meta TEXT
        );
INSERT INTO "annotators" VALUES(1,'judge','judge',NULL);
INSERT INTO "annotators" VALUES(2,'ann','human',NULL);
CREATE TABLE assignments (
            id INTEGER PRIMARY KEY,
            annotator_id INTEGER NOT NULL REFERENCES annotators(id),
            pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned', 'done', 'skipped')),
            shown_left TEXT NOT NULL CHECK (shown_left IN ('model_a', 'model_b')),
            vote_uid TEXT,
            flagged INTEGER NOT NULL DEFAULT 0,
            flag_reason TEXT,
            assigned_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at TEXT,
            UNIQUE (annotator_id, pair_id)
        );
CREATE TABLE benchmarks (
            id INTEGER PRIMARY KEY,
            model_id INTEGER NOT NULL REFERENCES models(id),
            benchmark TEXT NOT NULL,
            metric TEXT NOT NULL DEFAULT '',
            score REAL NOT NULL,
            source TEXT, stderr REAL, higher_is_better INTEGER, meta TEXT,
            UNIQUE (model_id, benchmark, metric)
        );
INSERT INTO "benchmarks" VALUES(1,1,'mmlu','acc',0.5,NULL,0.01,1,NULL);
CREATE TABLE gate_results (
            generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
            gate TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            output_sha TEXT NOT NULL,
            score REAL,
            blocked INTEGER NOT NULL DEFAULT 0,
            details TEXT,
            scored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (generation_id, gate, config_hash)
        );
INSERT INTO "gate_results" VALUES(1,'toxicity','h1','0eba65a8cbe896ee0825f64dd8712977e50278f9',0.1,0,'{"k": 1}','2026-12-01T00:00:00.000Z');
CREATE TABLE generations (
            id INTEGER PRIMARY KEY,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model_id INTEGER NOT NULL REFERENCES models(id),
            output TEXT NOT NULL,
            output_sha TEXT NOT NULL,
            output_chars INTEGER NOT NULL,
            gate_status TEXT NOT NULL DEFAULT 'pending'
                CHECK (gate_status IN ('pending', 'passed', 'blocked')),
            meta TEXT,
            source TEXT,
            imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (prompt_id, model_id)
        );
INSERT INTO "generations" VALUES(1,'p_c75de8c1b7c3ae52',1,'alpha answers q1','0eba65a8cbe896ee0825f64dd8712977e50278f9',16,'passed',NULL,NULL,'2026-12-01T00:00:00.000Z');
INSERT INTO "generations" VALUES(2,'p_c75de8c1b7c3ae52',2,'beta answers q1','252fc103712d95811bb64858c545f20768b7b9de',15,'passed',NULL,NULL,'2026-12-01T00:00:00.000Z');
INSERT INTO "generations" VALUES(3,'p_bee98bf120e89063',1,'alpha answers q2','63d14d79e86e9ff65b13ec88d596dd8ef5761400',16,'passed',NULL,NULL,'2026-12-01T00:00:00.000Z');
INSERT INTO "generations" VALUES(4,'p_bee98bf120e89063',2,'beta answers q2','6633d1dfb924353e8b1c90a6ba96958ae44511ce',15,'passed',NULL,NULL,'2026-12-01T00:00:00.000Z');
CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            meta TEXT
        );
INSERT INTO "models" VALUES(1,'alpha',NULL);
INSERT INTO "models" VALUES(2,'beta',NULL);
CREATE TABLE pairs (
            id INTEGER PRIMARY KEY,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            gen_a_id INTEGER NOT NULL REFERENCES generations(id),
            gen_b_id INTEGER NOT NULL REFERENCES generations(id),
            is_gold INTEGER NOT NULL DEFAULT 0,
            gold_winner TEXT CHECK (gold_winner IN ('model_a', 'model_b', 'tie', 'both_bad')),
            held_back TEXT,
            priority REAL NOT NULL DEFAULT 0,
            overlap INTEGER NOT NULL DEFAULT 1,
            taken INTEGER NOT NULL DEFAULT 0,
            votes INTEGER NOT NULL DEFAULT 0,
            gate_rank INTEGER NOT NULL DEFAULT 1,
            open INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            CHECK (gen_a_id < gen_b_id),
            UNIQUE (gen_a_id, gen_b_id)
        );
CREATE TABLE prompts (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            category TEXT,
            reference TEXT,
            meta TEXT
        );
INSERT INTO "prompts" VALUES('p_c75de8c1b7c3ae52','q1',NULL,NULL,NULL);
INSERT INTO "prompts" VALUES('p_bee98bf120e89063','q2',NULL,NULL,NULL);
CREATE TABLE queue_config (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
INSERT INTO "queue_config" VALUES('overlap','1');
CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model_a_id INTEGER NOT NULL REFERENCES models(id),
            model_b_id INTEGER NOT NULL REFERENCES models(id),
            winner TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'both_bad')),
            weight REAL NOT NULL DEFAULT 1.0 CHECK (weight >= 0.5 AND weight <= 1.0),
            score_b REAL NOT NULL CHECK (score_b >= 0.0 AND score_b <= 1.0),
            annotator_id INTEGER NOT NULL REFERENCES annotators(id),
            shown_left TEXT CHECK (shown_left IN ('model_a', 'model_b')),
            ts TEXT,
            rationale TEXT,
            criteria TEXT,
            flagged INTEGER NOT NULL DEFAULT 0,
            flag_reason TEXT,
            output_a TEXT,
            output_b TEXT,
            pair_id INTEGER,
            meta TEXT,
            source TEXT,
            CHECK (model_a_id != model_b_id)
        );
INSERT INTO "votes" VALUES(1,'v_3df3fc8df0c7dbcb985a1cc2','p_c75de8c1b7c3ae52',1,2,'model_a',1.0,0.0,1,NULL,NULL,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "votes" VALUES(2,'v_3318db931cf3f060fe8d9280','p_bee98bf120e89063',1,2,'tie',1.0,0.5,2,NULL,'2026-01-01T00:00:00Z',NULL,NULL,0,NULL,NULL,NULL,NULL,NULL,NULL);
CREATE INDEX idx_generations_model ON generations(model_id);
CREATE INDEX idx_generations_gate_status ON generations(gate_status);
CREATE INDEX idx_votes_annotator ON votes(annotator_id);
CREATE INDEX idx_votes_prompt ON votes(prompt_id);
CREATE VIEW vote_details AS
            SELECT v.id, v.uid, v.prompt_id, p.text AS prompt, ma.name AS model_a, mb.name AS model_b,
                   v.winner, v.weight, v.score_b, an.name AS annotator, v.shown_left, v.ts, v.rationale,
                   v.criteria, v.flagged, v.flag_reason, v.source
            FROM votes v
            JOIN prompts p ON p.id = v.prompt_id
            JOIN models ma ON ma.id = v.model_a_id
            JOIN models mb ON mb.id = v.model_b_id
            JOIN annotators an ON an.id = v.annotator_id;
CREATE VIEW generation_details AS
            SELECT g.id, g.prompt_id, p.text AS prompt, m.name AS model, g.output, g.output_chars,
                   g.gate_status, p.category, g.source
            FROM generations g
            JOIN prompts p ON p.id = g.prompt_id
            JOIN models m ON m.id = g.model_id;
CREATE INDEX idx_pairs_serve ON pairs(is_gold, gate_rank, priority DESC) WHERE open = 1;
CREATE INDEX idx_pairs_gen_b ON pairs(gen_b_id);
CREATE INDEX idx_pairs_prompt ON pairs(prompt_id);
CREATE INDEX idx_assignments_status ON assignments(annotator_id, status, updated_at);
CREATE INDEX idx_votes_pair ON votes(pair_id) WHERE pair_id IS NOT NULL;
CREATE TRIGGER pairs_gate_a AFTER UPDATE OF gate_status ON generations BEGIN
            UPDATE pairs SET gate_rank = (
                SELECT CASE WHEN ga.gate_status = 'blocked' OR gb.gate_status = 'blocked' THEN 0
                            WHEN ga.gate_status = 'passed' AND gb.gate_status = 'passed' THEN 2 ELSE 1 END
                FROM generations ga, generations gb WHERE ga.id = pairs.gen_a_id AND gb.id = pairs.gen_b_id)
            WHERE gen_a_id = NEW.id OR gen_b_id = NEW.id;
        END;
CREATE INDEX idx_votes_outcomes
            ON votes(model_a_id, model_b_id, score_b, flagged, annotator_id);
CREATE INDEX idx_gate_results_gate ON gate_results(gate, config_hash);
COMMIT;
