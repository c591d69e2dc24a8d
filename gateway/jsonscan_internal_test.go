package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// validSeeds are JSON texts valid and not, near every rule of the grammar.
var validSeeds = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `{"a":1}`, `{"a" : [1, 2.5, -0, 1e5, 1E+5, 1e-5, -12.34e+56]}`,
	`"x"`, `"\u00e9\n\t\"\\\/\b\f\r"`, `"\u00g0"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"a\xff\xfe\"",
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `true false`, `[true,false,null]`,
	`01`, `-`, `-0`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5e3.2`,
	`[1,]`, `[,1]`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`,
	`[`, `]`, `{`, `}`, `[}`, `{]`, `[[]]`, `[[]`, `[]]`, `{"a":{"b":[{}]}}`, `{"a":[}`,
	"\ufeff{}", "{}\x00", `{} {}`, `"unterminated`, `"\`, `[1,[2,[3,{"k":"v"}]]]`,
	`{"id":"msg_1","type":"message","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":15}}`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat("[", maxDepth) + "{}" + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth-1) + "{}" + strings.Repeat("]", maxDepth-1),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
}

// TestValidJSON: validJSON answers as json.Valid does, on the seeds and on thousands of
// mutations of them (bytes deleted, inserted, replaced by JSON's own punctuation).
func TestValidJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
	for _, s := range validSeeds {
		check(s)
	}
	rng := rand.New(rand.NewPCG(19, 1))
	const alphabet = "{}[],:\"\\ 0123456789.eE+-truefalsn\tux\x01"
	for range 50000 {
		b := []byte(validSeeds[rng.IntN(len(validSeeds))])
		if len(b) > 200 {
			continue
		}
		for range 1 + rng.IntN(3) {
			switch op := rng.IntN(3); {
			case op == 0 && len(b) > 0:
				i := rng.IntN(len(b))
				b = append(b[:i], b[i+1:]...)
			case op == 1:
				i := rng.IntN(len(b) + 1)
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			case len(b) > 0:
				b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		check(string(b))
	}
}

// FuzzValidJSON: validJSON and json.Valid agree on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a fakellm answer.
func BenchmarkValidJSON(b *testing.B) {
	body := []byte(`{"id":"msg_fake_a866872c23f7_1","type":"message","role":"assistant","model":"claude-a","content":[{"type":"text","text":"[fakellm a866872c23f7] benchmark this request please"}],"stop_reason":"end_turn","stop_sequence":null,"stop_details":null,"usage":{"input_tokens":15,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":13}}`)
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !c.valid(body) {
					b.Fatal("not valid")
				}
			}
		})
	}
}
