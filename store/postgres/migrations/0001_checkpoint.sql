-- Durable runs (package checkpoint): one row per run with its lease, the step journal, the
-- append-only message journal and the attempt events of steps.
CREATE TABLE runs (
	id            TEXT PRIMARY KEY,
	workflow      TEXT NOT NULL DEFAULT '',
	input         BYTEA,
	status        TEXT NOT NULL,
	owner         TEXT NOT NULL DEFAULT '',
	epoch         BIGINT NOT NULL DEFAULT 0,
	lease_expires TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01 00:00:00+00',
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL,
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
	irreversible  BOOLEAN NOT NULL DEFAULT false,
	version       INTEGER NOT NULL,
	result        BYTEA,
	checksum      BIGINT NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	class         TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	escalation_id TEXT NOT NULL DEFAULT '',
	executions    INTEGER NOT NULL DEFAULT 0,
	started_at    TIMESTAMPTZ NOT NULL,
	finished_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (run_id, idx)
);

CREATE TABLE messages (
	run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq      BIGINT NOT NULL,
	step     INTEGER NOT NULL,
	version  INTEGER NOT NULL,
	body     BYTEA NOT NULL,
	checksum BIGINT NOT NULL,
	PRIMARY KEY (run_id, seq)
);

CREATE TABLE attempts (
	id         BIGSERIAL PRIMARY KEY,
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step       INTEGER NOT NULL,
	at         TIMESTAMPTZ NOT NULL,
	kind       TEXT NOT NULL,
	attempt    INTEGER NOT NULL DEFAULT 0,
	class      TEXT NOT NULL DEFAULT '',
	delay_ns   BIGINT NOT NULL DEFAULT 0,
	model      TEXT NOT NULL DEFAULT '',
	from_state TEXT NOT NULL DEFAULT '',
	to_state   TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_run ON attempts (run_id, step);
