package supervisor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// A predicate is one comparison of a field against a literal: `amount <= 100`,
// `currency == "EUR"`, `customer.tier != "new"`, `@attempts >= 3`. The language has nothing
// else: no calls, no arithmetic, no "or" (list several rules for that), so that a policy reads
// as what it allows.
//
// The field is a dotted path into the tool call's JSON arguments (`customer.tier`), or one of
// the item's own fields: @attempts, @age_seconds, @class, @step, @tool, @irreversible. The
// literal is a JSON number, a JSON string, true, false or null. Ordering operators (<, <=, >,
// >=) compare numbers only. A field that is missing, or of another type than the literal, makes
// the predicate false: a policy never allows more because an argument is absent.
type predicate struct {
	src   string
	path  []string
	item  string // "@attempts" ..., or "" for an argument path
	op    string
	value any // float64, string, bool or nil
}

// itemFields are the fields of the item a predicate may read.
var itemFields = map[string]bool{
	"@attempts": true, "@age_seconds": true, "@class": true, "@step": true, "@tool": true, "@irreversible": true,
}

var operators = []string{"<=", ">=", "==", "!=", "<", ">"}

func parsePredicate(s string) (predicate, error) {
	src := strings.TrimSpace(s)
	p := predicate{src: src}
	i := strings.IndexFunc(src, func(r rune) bool { return strings.ContainsRune("<>=!", r) })
	if i <= 0 {
		return p, fmt.Errorf("%q: want FIELD OP VALUE, e.g. amount <= 100 (OP one of <= >= == != < >)", s)
	}
	field := strings.TrimSpace(src[:i])
	rest := src[i:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			p.op = op
			rest = strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if p.op == "" {
		return p, fmt.Errorf("%q: unknown operator; want one of <= >= == != < >", s)
	}
	if strings.HasPrefix(field, "@") {
		if !itemFields[field] {
			return p, fmt.Errorf("%q: unknown item field %s; want @attempts, @age_seconds, @class, @step, @tool or @irreversible", s, field)
		}
		p.item = field
	} else {
		for part := range strings.SplitSeq(field, ".") {
			if part == "" || strings.IndexFunc(part, func(r rune) bool {
				return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-')
			}) >= 0 {
				return p, fmt.Errorf("%q: field %q: want a dotted path of names (letters, digits, _ and -), e.g. customer.tier", s, field)
			}
			p.path = append(p.path, part)
		}
	}
	if rest == "" {
		return p, fmt.Errorf("%q: missing the value after %s", s, p.op)
	}
	dec := json.NewDecoder(strings.NewReader(rest))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return p, fmt.Errorf("%q: value %s: want a number, a \"string\", true, false or null", s, rest)
	}
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return p, fmt.Errorf("%q: value %s is not a usable number", s, rest)
		}
		p.value = f
	case string, bool, nil:
		p.value = x
	default:
		return p, fmt.Errorf("%q: value %s: want a number, a \"string\", true, false or null (no objects or arrays)", s, rest)
	}
	if _, isNum := p.value.(float64); !isNum && p.op != "==" && p.op != "!=" {
		return p, fmt.Errorf("%q: %s compares numbers only", s, p.op)
	}
	return p, nil
}

// eval reports whether the predicate holds for the subject.
func (p predicate) eval(s subject) bool {
	var got any
	var ok bool
	if p.item != "" {
		got, ok = s.itemField(p.item)
	} else {
		got, ok = lookup(s.args, p.path)
	}
	if !ok {
		return false
	}
	switch want := p.value.(type) {
	case float64:
		g, isNum := toFloat(got)
		if !isNum {
			return false
		}
		switch p.op {
		case "<=":
			return g <= want
		case ">=":
			return g >= want
		case "<":
			return g < want
		case ">":
			return g > want
		case "==":
			return g == want
		case "!=":
			return g != want
		}
	case string:
		g, isStr := got.(string)
		if !isStr {
			return false
		}
		return (p.op == "==") == (g == want)
	case bool:
		g, isBool := got.(bool)
		if !isBool {
			return false
		}
		return (p.op == "==") == (g == want)
	case nil:
		return (p.op == "==") == (got == nil)
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// lookup walks a dotted path through decoded JSON objects. A missing step is not found; a
// null at the end is found (as nil).
func lookup(v any, path []string) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
