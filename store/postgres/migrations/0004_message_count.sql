-- A run counts its messages as it counts its steps: message_count is the seq its next message
-- takes, set by every write that appends messages, so that a message journal missing messages
-- from its end reads as damaged (checkpoint.CorruptError), not as a shorter conversation. Runs
-- written before this migration are counted here, from the messages they hold.
ALTER TABLE runs ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET message_count = COALESCE((SELECT MAX(seq) + 1 FROM messages WHERE messages.run_id = runs.id), 0);
