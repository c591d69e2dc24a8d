package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/checkpoint"
	"github.com/rebound-go/rebound/llm"
)

// part is the result of a writing step: the text and who wrote it.
type part struct {
	Text     string `json:"text"`
	Model    string `json:"model"`
	Degraded bool   `json:"degraded,omitempty"`
}

// UnmarshalAnswer makes a person's plain-text answer (the respond decision on an escalated
// step) the part's text: the demo's steps produce text, so any text answers them.
func (p *part) UnmarshalAnswer(text string) error {
	*p = part{Text: text, Model: "person"}
	return nil
}

// runResearch runs (or resumes) the research pipeline as the run id, shows it, and prints the
// summary. The error decides the exit code.
func (g *globals) runResearch(ctx context.Context, s *stores, id string, in demoInput, w io.Writer) error {
	disp := g.newRunDisplay(w, fmt.Sprintf("rebound demo · run %s · %s", id, providerLabel(in)), demoSteps)
	models, err := g.buildModels(ctx, in)
	if err != nil {
		return err
	}
	defer models.close()
	runner := s.runner(disp.hook, nil)
	var report string
	disp.start()
	start := time.Now()
	err = runner.Run(ctx, id, research(in, models, &report), checkpoint.WithWorkflow(researchWorkflow, in))
	elapsed := time.Since(start)
	disp.stop()

	var held *checkpoint.LeaseHeldError
	if errors.As(err, &held) {
		return usagef("run %q is held by another live worker, %s, until %s; wait for it, or run 'rebound runs show %s'",
			id, held.Owner, held.Expires.Local().Format(time.TimeOnly), id)
	}
	human := w
	if g.json {
		human = g.stderr
	}
	// The run's attempts as the store counts them (checkpoint.CountAttempts), so that the
	// summary, `runs list`, `runs show` and the dashboard print one number for one run.
	attempts := -1
	if rec, rerr := s.runs.GetRun(context.WithoutCancel(ctx), id); rerr == nil {
		attempts = rec.AttemptCount
	}
	g.printSummary(human, summaryOf{
		p: disp.progress, runID: id, in: in, store: s.dsn, storeFlag: g.storeArg(), err: err,
		interrupted: err != nil && ctx.Err() != nil, elapsed: elapsed, report: report, attempts: attempts,
	})
	if err != nil {
		return &silentError{err}
	}
	return nil
}

func providerLabel(in demoInput) string {
	l := in.Provider + ": " + in.Model
	if in.FallbackModel != "" {
		l += " → " + in.FallbackModel
	}
	if in.Provider == providerFake {
		l = "built-in fake LLM (" + in.Model
		if in.FallbackModel != "" {
			l += " → " + in.FallbackModel
		}
		l += ")"
	}
	return l
}

// storeArg is the --store flag to repeat in the commands the summary prints ("" for the
// default store).
func (g *globals) storeArg() string {
	d, err := g.resolveDSN()
	if err != nil || d.raw == defaultStore {
		return ""
	}
	if !g.storeSet && g.getenv("REBOUND_STORE") != "" {
		return "" // the environment names it for the next command too
	}
	return " --store " + shellQuote(d.String()) // a password is redacted: set REBOUND_STORE instead
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// research is the demo's workflow: an outline, three sections, a summary, and publish, which
// writes the report and needs a person's approval first.
func research(in demoInput, m *demoModels, report *string) checkpoint.Workflow {
	return func(ctx context.Context, run *checkpoint.Run) error {
		if err := run.Append(ctx, rebound.User("Research topic: "+in.Topic)); err != nil {
			return err
		}
		ask := func(name, prompt string) (part, error) {
			return checkpoint.Step(ctx, run, name, func(ctx context.Context) (part, error) {
				if err := run.Append(ctx, rebound.User(prompt)); err != nil {
					return part{}, err
				}
				resp, err := m.text.Generate(ctx, llm.Request{Messages: run.Messages(), MaxTokens: 700})
				if err != nil {
					return part{}, err
				}
				if err := run.Append(ctx, resp.Message()); err != nil {
					return part{}, err
				}
				return part{Text: resp.Text, Model: resp.Provenance.Model, Degraded: resp.Provenance.Degraded}, nil
			})
		}
		outline, err := ask("outline", fmt.Sprintf("[outline] Outline a short report on %q: a title and three section headings, one a line.", in.Topic))
		if err != nil {
			return err
		}
		s1, err := ask("section_1", fmt.Sprintf("[section_1] Write section 1 of the report on %q in two short paragraphs.", in.Topic))
		if err != nil {
			return err
		}
		s2, err := checkpoint.Step(ctx, run, "section_2", func(ctx context.Context) (part, error) {
			prompt := fmt.Sprintf("[section_2] Write section 2 of the report on %q. Answer in JSON: "+
				`{"heading": "...", "paragraphs": ["...", "..."]}.`, in.Topic)
			if err := run.Append(ctx, rebound.User(prompt)); err != nil {
				return part{}, err
			}
			sec, resp, err := m.structured(ctx, llm.Request{Messages: run.Messages(), MaxTokens: 700})
			if err != nil {
				return part{}, err
			}
			if err := run.Append(ctx, resp.Message()); err != nil {
				return part{}, err
			}
			return part{Text: sec.markdown(), Model: resp.Provenance.Model, Degraded: resp.Provenance.Degraded}, nil
		})
		if err != nil {
			return err
		}
		s3, err := ask("section_3", fmt.Sprintf("[section_3] Write section 3 of the report on %q in two short paragraphs.", in.Topic))
		if err != nil {
			return err
		}
		summary, err := ask("summary", fmt.Sprintf("[summary] Summarise the report on %q in three sentences.", in.Topic))
		if err != nil {
			return err
		}
		path, err := checkpoint.Step(ctx, run, "publish", func(ctx context.Context) (string, error) {
			return publish(in, run.ID(), outline, []part{s1, s2, s3}, summary)
		}, checkpoint.Irreversible(), checkpoint.NeedsApproval(approvalText(in, run.ID(), []part{s1, s2, s3}, summary)))
		if err != nil {
			return err
		}
		*report = path
		return nil
	}
}

// approvalText says what approving publish will do, for the reviewer.
func approvalText(in demoInput, runID string, sections []part, summary part) string {
	var degraded []string
	for i, s := range sections {
		if s.Degraded {
			degraded = append(degraded, fmt.Sprintf("section %d", i+1))
		}
	}
	if summary.Degraded {
		degraded = append(degraded, "the summary")
	}
	what := fmt.Sprintf("publish the report on %q (an outline, 3 sections and a summary) to %s; "+
		"a published report is not taken back.", in.Topic, filepath.Join(in.ReportDir, runID+".md"))
	if len(degraded) > 0 {
		what += " Written by the fallback model: " + strings.Join(degraded, ", ") + "."
	}
	return what
}

// publish writes the report: the irreversible step. It writes to a temporary file and renames
// it, so a crash never leaves half a report.
func publish(in demoInput, runID string, outline part, sections []part, summary part) (string, error) {
	if err := os.MkdirAll(in.ReportDir, 0o755); err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n_Run %s, %s._\n\n## Outline\n\n%s\n\n", in.Topic, runID, time.Now().UTC().Format(time.RFC1123), outline.Text)
	var degraded []string
	for i, s := range sections {
		fmt.Fprintf(&b, "## Section %d\n\n%s\n\n", i+1, s.Text)
		if s.Degraded {
			fmt.Fprintf(&b, "> Degraded: written by the fallback model %s.\n\n", s.Model)
			degraded = append(degraded, fmt.Sprintf("section %d (%s)", i+1, s.Model))
		}
	}
	fmt.Fprintf(&b, "## Summary\n\n%s\n\n", summary.Text)
	if summary.Degraded {
		fmt.Fprintf(&b, "> Degraded: written by the fallback model %s.\n\n", summary.Model)
		degraded = append(degraded, fmt.Sprintf("summary (%s)", summary.Model))
	}
	b.WriteString("## Provenance\n\n")
	if len(degraded) == 0 {
		b.WriteString("Every part was written by the primary model.\n")
	} else {
		fmt.Fprintf(&b, "Degraded parts, answered by a fallback: %s.\n", strings.Join(degraded, ", "))
	}
	path := filepath.Join(in.ReportDir, runID+".md")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	return path, nil
}
