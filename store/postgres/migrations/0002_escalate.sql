-- The escalation queue (package escalate): one row per item, and its audit trail. Everything in
-- these tables was redacted before it was written. State and messages are JSON kept as text.
CREATE TABLE escalations (
	id              TEXT PRIMARY KEY,
	run_id          TEXT NOT NULL DEFAULT '',
	step            TEXT NOT NULL DEFAULT '',
	reason          TEXT NOT NULL,
	class           TEXT NOT NULL DEFAULT 'unknown',
	error           TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	state           TEXT,
	messages        TEXT,
	context         TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,
	claimed_by      TEXT NOT NULL DEFAULT '',
	claimed_until   TIMESTAMPTZ,
	decision_action TEXT NOT NULL DEFAULT '',
	decision_answer TEXT NOT NULL DEFAULT '',
	decision_note   TEXT NOT NULL DEFAULT '',
	decision_by     TEXT NOT NULL DEFAULT '',
	created_at      TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL,
	decided_at      TIMESTAMPTZ
);
-- A run has at most one waiting item per step: escalating it again returns that item.
CREATE UNIQUE INDEX escalations_waiting_step ON escalations (run_id, step)
	WHERE status IN ('open', 'claimed') AND run_id <> '';
CREATE INDEX escalations_status ON escalations (status, created_at, id);
CREATE INDEX escalations_run ON escalations (run_id, created_at);

CREATE TABLE escalation_audit (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	item_id     TEXT NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
	at          TIMESTAMPTZ NOT NULL,
	by_name     TEXT NOT NULL,
	event       TEXT NOT NULL,
	from_status TEXT NOT NULL DEFAULT '',
	to_status   TEXT NOT NULL,
	action      TEXT NOT NULL DEFAULT '',
	note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX escalation_audit_item ON escalation_audit (item_id, seq);
