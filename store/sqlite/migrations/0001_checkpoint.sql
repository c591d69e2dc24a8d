-- Durable runs (package checkpoint): one row per run with its lease, the step journal, the
-- append-only message journal and the attempt events of steps. Times are Unix nanoseconds (UTC).
CREATE TABLE runs (
	id            TEXT PRIMARY KEY,
	workflow      TEXT NOT NULL DEFAULT '',
	input         BLOB,
	status        TEXT NOT NULL,
	owner         TEXT NOT NULL DEFAULT '',
	epoch         INTEGER NOT NULL DEFAULT 0,
	lease_expires INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	last_step     TEXT NOT NULL DEFAULT '',
	step_count    INTEGER NOT NULL DEFAULT 0,
	attempt_count INTEGER NOT NULL DEFAULT 0,
	escalation_id TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_status ON runs (status, created_at DESC);

CREATE TABLE steps (
	run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	idx           INTEGER NOT NULL,
	name          TEXT NOT NULL,
	status        TEXT NOT NULL,
	key           TEXT NOT NULL DEFAULT '',
	irreversible  INTEGER NOT NULL DEFAULT 0,
	version       INTEGER NOT NULL,
	result        BLOB,
	checksum      INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	class         TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	escalation_id TEXT NOT NULL DEFAULT '',
	executions    INTEGER NOT NULL DEFAULT 0,
	started_at    INTEGER NOT NULL DEFAULT 0,
	finished_at   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, idx)
);

CREATE TABLE messages (
	run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	step     INTEGER NOT NULL,
	version  INTEGER NOT NULL,
	body     BLOB NOT NULL,
	checksum INTEGER NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE attempts (
	run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step     INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	kind     TEXT NOT NULL,
	attempt  INTEGER NOT NULL DEFAULT 0,
	class    TEXT NOT NULL DEFAULT '',
	delay_ns INTEGER NOT NULL DEFAULT 0,
	model    TEXT NOT NULL DEFAULT '',
	from_state TEXT NOT NULL DEFAULT '',
	to_state TEXT NOT NULL DEFAULT '',
	reason   TEXT NOT NULL DEFAULT '',
	error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_run ON attempts (run_id, step);
