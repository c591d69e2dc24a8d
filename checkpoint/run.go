package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/rebound-go/rebound"
)

// Run is one execution of a workflow, handed to the Workflow function. Its methods may be called
// from the workflow's goroutine and from inside its steps; steps of one run execute one at a
// time (Step must not be called concurrently on the same Run).
type Run struct {
	r    *Runner
	id   string
	info RunInfo

	mu    sync.Mutex
	lease Lease
	// confirmed is when the current lease was last confirmed (claimed or renewed), taken when
	// the request was sent: by this worker's clock the lease holds until confirmed + LeaseTTL.
	confirmed time.Time
	// prev is the lease this worker's claim replaced; prevDead says its owner was a process
	// of this host found dead.
	prev     Lease
	prevDead bool
	// answer is the AnswerSpec of the step running (or last entered).
	answer AnswerSpec
	steps  []StepRecord
	// journal is the recorded history; cursor how much of it the workflow has replayed.
	journal []journalMsg
	cursor  int
	visible []rebound.Message
	// firstMsg is the journal position of each step's first message.
	firstMsg map[int]int
	next     int // index of the next step the workflow calls
	halt     error
	cur      *stepState

	lastStep     string
	attemptCount int
}

type journalMsg struct {
	msg  rebound.Message
	step int
}

// stepState buffers what a step appends while it runs; it is journaled with the step's result.
type stepState struct {
	index    int
	messages []rebound.Message
	attempts []AttemptRecord
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func newRun(r *Runner, c *Claimed, sent time.Time, prevDead bool) (*Run, error) {
	run := &Run{
		r: r, id: c.Lease.RunID, info: c.Run, lease: c.Lease, confirmed: sent,
		prev: c.Previous, prevDead: prevDead,
		lastStep: c.Run.LastStep, attemptCount: c.Run.AttemptCount,
	}
	run.steps = make([]StepRecord, 0, len(c.Steps))
	for i, s := range c.Steps {
		if s.Index != i {
			return nil, &CorruptError{RunID: run.id, Step: s.Name, Record: fmt.Sprintf("step %d", s.Index),
				Err: fmt.Errorf("step index %d where %d was expected", s.Index, i)}
		}
		if err := verifyStep(s); err != nil {
			return nil, &CorruptError{RunID: run.id, Step: s.Name, Record: fmt.Sprintf("step %d", s.Index), Err: err}
		}
		run.steps = append(run.steps, s)
	}
	if err := verifyStepCount(c.Run, len(c.Steps)); err != nil {
		return nil, err
	}
	msgs, damage := readJournal(c.Run, c.Steps, c.Messages)
	if len(damage) > 0 {
		return nil, damage[0]
	}
	run.journal = msgs
	run.firstMsg = make(map[int]int)
	for i, m := range msgs {
		if _, ok := run.firstMsg[m.step]; !ok && m.step >= 0 {
			run.firstMsg[m.step] = i
		}
	}
	return run, nil
}

// verifyStepCount checks that the journal holds every step the run's summary counts: a journal
// that lost rows (a truncated table, a restored backup of one table, a row deleted
// by hand) must not read as a run that has yet to reach those steps, which would run them (an
// irreversible one included) again.
func verifyStepCount(info RunInfo, have int) error {
	if info.StepCount <= have {
		return nil
	}
	step := info.LastStep
	if info.StepCount != have+1 || step == "" {
		step = fmt.Sprintf("(step %d)", have)
	}
	return &CorruptError{RunID: info.ID, Step: step, Record: "step count",
		Err: fmt.Errorf("the run records %d steps, its journal holds %d: steps are missing from the journal", info.StepCount, have)}
}

func verifyStep(s StepRecord) error {
	if s.Version != RecordVersion {
		return fmt.Errorf("unknown record version %d", s.Version)
	}
	switch s.Status {
	case StepStarted, StepFailed, StepEscalated:
	case StepCompleted:
		if got := checksum(s.Result); got != s.Checksum {
			return fmt.Errorf("result checksum %08x, recorded %08x", got, s.Checksum)
		}
	default:
		return fmt.Errorf("unknown step status %q", s.Status)
	}
	return nil
}

// readJournal verifies and decodes a run's message journal: each record's place (messages are
// numbered from 0 without a gap), version and checksum, and that the journal holds every message
// the run's MessageCount counts; steps name the step a message belongs to. msgs is the
// journal without its damaged records; damage describes each damaged or missing record, in
// journal order: a message deleted from the middle, or from the end (the run counts it, the
// journal does not hold it), is damage, never a shorter conversation, which a resumed run would
// carry on from as if the message had never been said. A journal holding more messages than
// the run counts is accepted, as are more steps than StepCount: a writer from before the count
// appends without counting.
func readJournal(info RunInfo, steps []StepRecord, recs []MessageRecord) (msgs []journalMsg, damage []*CorruptError) {
	stepName := func(i int) string {
		if i >= 0 && i < len(steps) {
			return steps[i].Name
		}
		return "(outside steps)"
	}
	corrupt := func(step, record string, err error) {
		damage = append(damage, &CorruptError{RunID: info.ID, Step: step, Record: record, Err: err})
	}
	var next int64 // the Seq the next record must have
	for i, m := range recs {
		if m.Seq < next {
			corrupt(stepName(m.Step), fmt.Sprintf("message %d", m.Seq), fmt.Errorf("sequence %d where %d was expected", m.Seq, next))
			continue
		}
		if m.Seq > next {
			// The missing messages belong to the step of the messages on both sides, when
			// those are one step's; otherwise which step appended them is not known.
			missing := messagesRange(next, m.Seq)
			step := "(" + missing + ")"
			if i > 0 && recs[i-1].Step == m.Step {
				step = stepName(m.Step)
			}
			where := fmt.Sprintf("the journal starts at message %d", m.Seq)
			if next > 0 {
				where = fmt.Sprintf("the journal goes from message %d to message %d", next-1, m.Seq)
			}
			corrupt(step, missing, fmt.Errorf("missing from the journal: %s", where))
			next = m.Seq
		}
		next++
		msg, err := decodeMessage(m)
		if err != nil {
			corrupt(stepName(m.Step), fmt.Sprintf("message %d", m.Seq), err)
			continue
		}
		msgs = append(msgs, journalMsg{msg: msg, step: m.Step})
	}
	if n := int64(info.MessageCount); n > next {
		missing := messagesRange(next, n)
		verb := "is"
		if n-next > 1 {
			verb = "are"
		}
		corrupt("("+missing+")", "message count", fmt.Errorf("the run records %d messages, its journal ends after %d: %s %s missing from its end",
			n, next, missing, verb))
	}
	return msgs, damage
}

// messagesRange names the messages from..to-1: "message 4", "messages 4 to 6".
func messagesRange(from, to int64) string {
	if to-from == 1 {
		return fmt.Sprintf("message %d", from)
	}
	return fmt.Sprintf("messages %d to %d", from, to-1)
}

func decodeMessage(m MessageRecord) (rebound.Message, error) {
	var msg rebound.Message
	if m.Version != RecordVersion {
		return msg, fmt.Errorf("unknown record version %d", m.Version)
	}
	if got := checksum(m.Body); got != m.Checksum {
		return msg, fmt.Errorf("checksum %08x, recorded %08x", got, m.Checksum)
	}
	if err := json.Unmarshal(m.Body, &msg); err != nil {
		return msg, fmt.Errorf("decode message: %w", err)
	}
	return msg, nil
}

func encodeMessage(seq int64, step int, m rebound.Message) (MessageRecord, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return MessageRecord{}, err
	}
	return MessageRecord{Seq: seq, Step: step, Version: RecordVersion, Body: b, Checksum: checksum(b)}, nil
}

// ID returns the run's ID.
func (run *Run) ID() string { return run.id }

// Workflow returns the workflow name recorded for the run (see WithWorkflow).
func (run *Run) Workflow() string { return run.info.Workflow }

// Input returns the workflow input recorded for the run, as JSON (nil if none).
func (run *Run) Input() json.RawMessage { return run.info.Input }

// DecodeInput decodes the recorded workflow input into v.
func (run *Run) DecodeInput(v any) error {
	if len(run.info.Input) == 0 {
		return fmt.Errorf("run %q: no workflow input recorded", run.id)
	}
	if err := json.Unmarshal(run.info.Input, v); err != nil {
		return fmt.Errorf("run %q: decode workflow input: %w", run.id, err)
	}
	return nil
}

// Messages returns the conversation so far, in order: on resume, the recorded history up to
// the point the workflow has reached (after the steps it skipped), so that a resumed step sees
// exactly the history it saw before.
func (run *Run) Messages() []rebound.Message {
	run.mu.Lock()
	defer run.mu.Unlock()
	return append([]rebound.Message(nil), run.visible...)
}

// Append adds messages to the run's history. Inside a step they are journaled with the step's
// result (a step that fails leaves no messages behind); outside a step they are journaled at
// once; after a step has stopped the run (it failed or escalated), Append returns that step's
// error and journals nothing. On resume, a message appended outside a step that the journal
// already holds at that position is recognised, not written again; one that differs is a
// *WorkflowChangedError.
// Recording costs the size of the messages added, never the size of the whole history. The
// write outside a step is made under ctx: a canceled ctx journals nothing and returns its error.
func (run *Run) Append(ctx context.Context, msgs ...rebound.Message) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(msgs) == 0 {
		return nil
	}

	if run.halt != nil && run.cur == nil {
		// The run has stopped: journaling more would put messages where a resumed run, which
		// runs the stopped step again, does not expect them.
		return run.halt
	}
	if run.cur != nil {
		run.cur.messages = append(run.cur.messages, msgs...)
		run.visible = append(run.visible, msgs...)
		return nil
	}
	var recs []MessageRecord
	for _, m := range msgs {
		if run.cursor < len(run.journal) {
			j := run.journal[run.cursor]
			if j.step != -1 || !j.msg.Equal(m) {
				return &WorkflowChangedError{RunID: run.id, Index: run.cursor, Message: true,
					Recorded: describeMessage(j.msg, j.step), Called: describeMessage(m, -1)}
			}
			run.cursor++
			run.visible = append(run.visible, m)
			continue
		}
		rec, err := encodeMessage(int64(len(run.journal)+len(recs)), -1, m)
		if err != nil {
			return fmt.Errorf("run %q: encode message: %w", run.id, err)
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %q: append: %w", run.id, err)
	}
	if err := run.writeLocked(ctx, Write{Messages: recs}); err != nil {
		return err
	}
	for _, m := range msgs[len(msgs)-len(recs):] {
		run.journal = append(run.journal, journalMsg{msg: m, step: -1})
		run.visible = append(run.visible, m)
	}
	run.cursor = len(run.journal)
	return nil
}

func describeMessage(m rebound.Message, step int) string {
	c := m.Content
	if len(c) > 40 {
		c = c[:40] + "..."
	}
	where := "outside steps"
	if step >= 0 {
		where = fmt.Sprintf("of step %d", step)
	}
	return fmt.Sprintf("%s %q (%s)", m.Role, c, where)
}

// consumeMessages replays the recorded messages of a skipped step into the visible history.
// They must come next in the journal: messages before them that the workflow has not appended
// again mean the workflow changed.
func (run *Run) consumeMessages(idx int) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	if first, ok := run.firstMsg[idx]; ok && first > run.cursor {
		j := run.journal[run.cursor]
		return &WorkflowChangedError{RunID: run.id, Index: run.cursor, Message: true,
			Recorded: describeMessage(j.msg, j.step), Called: fmt.Sprintf("step %d %q", idx, run.steps[idx].Name)}
	}
	for run.cursor < len(run.journal) && run.journal[run.cursor].step == idx {
		run.visible = append(run.visible, run.journal[run.cursor].msg)
		run.cursor++
	}
	return nil
}

func (run *Run) currentLease() Lease {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.lease
}

// setLease records a renewed lease, confirmed by a request sent at sent.
func (run *Run) setLease(l Lease, sent time.Time) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if l.Epoch == run.lease.Epoch {
		run.lease = l
		if sent.After(run.confirmed) {
			run.confirmed = sent
		}
	}
}

func (run *Run) write(ctx context.Context, w Write) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.writeLocked(ctx, w)
}

func (run *Run) writeLocked(ctx context.Context, w Write) error {
	start := time.Now()
	err := run.r.store.WriteRun(ctx, run.lease, w)
	if run.r.cfg.ObserveWrite != nil {
		run.r.cfg.ObserveWrite(time.Since(start))
	}
	if err != nil {
		return fmt.Errorf("run %q: write journal: %w", run.id, err)
	}
	if w.Release {
		run.lease.Expires = time.Now()
	}
	return nil
}

// summary returns the run's summary as it stands (status running).
func (run *Run) summary() RunUpdate {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.summaryLocked()
}

func (run *Run) summaryLocked() RunUpdate {
	return RunUpdate{Status: StatusRunning, LastStep: run.lastStep, StepCount: len(run.steps), AttemptCount: run.attemptCount}
}

// checkUnvisited reports recorded steps the workflow did not reach although it completed.
func (run *Run) checkUnvisited() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.next < len(run.steps) {
		return &WorkflowChangedError{RunID: run.id, Index: run.next, Recorded: run.steps[run.next].Name, Called: "(end of workflow)"}
	}
	return nil
}

func (run *Run) halted() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.halt
}

func (run *Run) stop(err error) error {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.halt == nil {
		run.halt = err
	}
	return err
}
