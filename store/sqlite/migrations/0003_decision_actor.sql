-- Who decided, kept for good: a decision names the kind of decider (person or supervisor), its
-- rationale (redacted like the note), a supervisor's confidence and the hold before the run may
-- act on it; acted_at is when the run took a held decision (then nobody can override it). The
-- audit trail keeps every decision whole, so one replaced later stays readable. Decisions made
-- before this migration were people's.
ALTER TABLE escalations ADD COLUMN decision_actor TEXT NOT NULL DEFAULT '';
ALTER TABLE escalations ADD COLUMN decision_rationale TEXT NOT NULL DEFAULT '';
ALTER TABLE escalations ADD COLUMN decision_confidence REAL NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN decision_hold_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN acted_at INTEGER NOT NULL DEFAULT 0;
UPDATE escalations SET decision_actor = 'person' WHERE decision_action <> '';

ALTER TABLE escalation_audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE escalation_audit ADD COLUMN answer TEXT NOT NULL DEFAULT '';
ALTER TABLE escalation_audit ADD COLUMN rationale TEXT NOT NULL DEFAULT '';
ALTER TABLE escalation_audit ADD COLUMN confidence REAL NOT NULL DEFAULT 0;
ALTER TABLE escalation_audit ADD COLUMN hold_ns INTEGER NOT NULL DEFAULT 0;
UPDATE escalation_audit SET actor = 'person' WHERE event IN ('resolved', 'dismissed');
