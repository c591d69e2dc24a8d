package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Schema returns the JSON Schema of the Go type t as a tool's input schema: a struct is an object
// whose properties are its exported fields under their JSON names, required unless the field is
// a pointer or tagged omitempty, with no other properties allowed; a field's `desc:"..."` tag is
// its description and an `enum:"a,b"` tag lists the values a string may take. Strings, booleans,
// integers, floats, slices, arrays, maps with string keys, time.Time (a date-time string) and
// json.RawMessage (any value) are understood; a channel, a function or a complex number is an
// error.
func Schema(t reflect.Type) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := writeSchema(&b, t, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func writeSchema(b *bytes.Buffer, t reflect.Type, seen map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		b.WriteString(`{"type":"string","format":"date-time"}`)
		return nil
	case t == rawType:
		b.WriteString(`{}`)
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		b.WriteString(`{"type":"string"}`)
	case reflect.Bool:
		b.WriteString(`{"type":"boolean"}`)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(`{"type":"integer"}`)
	case reflect.Float32, reflect.Float64:
		b.WriteString(`{"type":"number"}`)
	case reflect.Interface:
		b.WriteString(`{}`)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			b.WriteString(`{"type":"string"}`) // encoding/json writes []byte as base64
			return nil
		}
		b.WriteString(`{"type":"array","items":`)
		if err := writeSchema(b, t.Elem(), seen); err != nil {
			return err
		}
		b.WriteString(`}`)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("schema of %s: map keys must be strings", t)
		}
		b.WriteString(`{"type":"object","additionalProperties":`)
		if err := writeSchema(b, t.Elem(), seen); err != nil {
			return err
		}
		b.WriteString(`}`)
	case reflect.Struct:
		if seen[t] {
			return fmt.Errorf("schema of %s: recursive type", t)
		}
		seen[t] = true
		defer delete(seen, t)
		b.WriteString(`{"type":"object","properties":{`)
		var required []string
		n := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if n > 0 {
				b.WriteByte(',')
			}
			n++
			writeString(b, name)
			b.WriteByte(':')
			var fb bytes.Buffer
			if err := writeSchema(&fb, f.Type, seen); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			fs := fb.Bytes()
			if extra := fieldExtras(f); extra != "" {
				fs = append(append(fs[:len(fs)-1:len(fs)-1], []byte(sep(fs)+extra)...), '}')
			}
			b.Write(fs)
			if f.Type.Kind() != reflect.Pointer && !strings.Contains(","+opts+",", ",omitempty,") &&
				!strings.Contains(","+opts+",", ",omitzero,") {
				required = append(required, name)
			}
		}
		b.WriteString(`}`)
		if len(required) > 0 {
			b.WriteString(`,"required":[`)
			for i, r := range required {
				if i > 0 {
					b.WriteByte(',')
				}
				writeString(b, r)
			}
			b.WriteString(`]`)
		}
		b.WriteString(`,"additionalProperties":false}`)
	default:
		return fmt.Errorf("schema of %s: a %s cannot be a tool's input", t, t.Kind())
	}
	return nil
}

// sep is the comma between a schema's existing keywords and added ones ("" after "{").
func sep(s []byte) string {
	if len(s) <= 2 {
		return ""
	}
	return ","
}

func fieldExtras(f reflect.StructField) string {
	var parts []string
	if d := f.Tag.Get("desc"); d != "" {
		var b bytes.Buffer
		b.WriteString(`"description":`)
		writeString(&b, d)
		parts = append(parts, b.String())
	}
	if e := f.Tag.Get("enum"); e != "" {
		var b bytes.Buffer
		b.WriteString(`"enum":[`)
		for i, v := range strings.Split(e, ",") {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, strings.TrimSpace(v))
		}
		b.WriteString(`]`)
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

// schema is the part of JSON Schema that input validation understands: type, properties,
// required, additionalProperties, items, enum, minimum, maximum, minLength, maxLength. Other
// keywords are ignored (the model still sees them).
type schema struct {
	Type                 string             `json:"-"`
	Types                []string           `json:"-"`
	RawType              json.RawMessage    `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	Enum                 []json.RawMessage  `json:"enum"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinLength            *int               `json:"minLength"`
	MaxLength            *int               `json:"maxLength"`

	additional *schema // additionalProperties as a schema
	closed     bool    // additionalProperties: false
}

func parseSchema(raw json.RawMessage) (*schema, error) {
	var s schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if err := s.prepare(); err != nil {
		return nil, err
	}
	if s.Type == "" && len(s.Properties) > 0 {
		s.Type, s.Types = "object", []string{"object"}
	}
	return &s, nil
}

func (s *schema) prepare() error {
	if len(s.RawType) > 0 {
		var one string
		if json.Unmarshal(s.RawType, &one) == nil {
			s.Types = []string{one}
		} else if err := json.Unmarshal(s.RawType, &s.Types); err != nil {
			return fmt.Errorf("type: want a string or a list of strings")
		}
		if len(s.Types) > 0 {
			s.Type = s.Types[0]
		}
	}
	switch a := bytes.TrimSpace(s.AdditionalProperties); {
	case len(a) == 0, string(a) == "true":
	case string(a) == "false":
		s.closed = true
	default:
		var sub schema
		if err := json.Unmarshal(a, &sub); err != nil {
			return fmt.Errorf("additionalProperties: %w", err)
		}
		if err := sub.prepare(); err != nil {
			return err
		}
		s.additional = &sub
	}
	for _, p := range s.Properties {
		if p == nil {
			continue
		}
		if err := p.prepare(); err != nil {
			return err
		}
	}
	if s.Items != nil {
		return s.Items.prepare()
	}
	return nil
}

// validate checks the input against s and returns every problem found, each naming where.
func (s *schema) validate(input json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(input))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("the arguments are not valid JSON: %v", err)
	}
	if d.More() {
		return errors.New("the arguments are more than one JSON value")
	}
	var probs []string
	s.check(v, "", &probs)
	if len(probs) == 0 {
		return nil
	}
	if len(probs) > 5 {
		probs = append(probs[:5], fmt.Sprintf("and %d more", len(probs)-5))
	}
	return errors.New(strings.Join(probs, "; "))
}

func where(path string) string {
	if path == "" {
		return "the arguments"
	}
	return path
}

func (s *schema) check(v any, path string, probs *[]string) {
	if s == nil {
		return
	}
	if len(s.Types) > 0 && !typeMatches(s.Types, v) {
		*probs = append(*probs, fmt.Sprintf("%s: want %s, got %s", where(path), strings.Join(s.Types, " or "), jsonType(v)))
		return
	}
	if len(s.Enum) > 0 {
		got, _ := json.Marshal(v)
		found := false
		var want []string
		for _, e := range s.Enum {
			want = append(want, string(e))
			if bytes.Equal(bytes.TrimSpace(e), got) {
				found = true
			}
		}
		if !found {
			*probs = append(*probs, fmt.Sprintf("%s: %s is not one of %s", where(path), got, strings.Join(want, ", ")))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				*probs = append(*probs, fmt.Sprintf("%s: missing required property %q", where(path), r))
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := path + "." + k
			if path == "" {
				sub = k
			}
			if p, ok := s.Properties[k]; ok {
				p.check(x[k], sub, probs)
			} else if s.closed {
				*probs = append(*probs, fmt.Sprintf("%s: unknown property %q", where(path), k))
			} else if s.additional != nil {
				s.additional.check(x[k], sub, probs)
			}
		}
	case []any:
		for i, e := range x {
			s.Items.check(e, path+"["+strconv.Itoa(i)+"]", probs)
		}
	case json.Number:
		f, err := x.Float64()
		if err == nil && s.Minimum != nil && f < *s.Minimum {
			*probs = append(*probs, fmt.Sprintf("%s: %s is less than the minimum %v", where(path), x, *s.Minimum))
		}
		if err == nil && s.Maximum != nil && f > *s.Maximum {
			*probs = append(*probs, fmt.Sprintf("%s: %s is more than the maximum %v", where(path), x, *s.Maximum))
		}
	case string:
		n := len([]rune(x))
		if s.MinLength != nil && n < *s.MinLength {
			*probs = append(*probs, fmt.Sprintf("%s: shorter than %d characters", where(path), *s.MinLength))
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			*probs = append(*probs, fmt.Sprintf("%s: longer than %d characters", where(path), *s.MaxLength))
		}
	}
}

func typeMatches(types []string, v any) bool {
	for _, t := range types {
		switch x := v.(type) {
		case nil:
			if t == "null" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case string:
			if t == "string" {
				return true
			}
		case json.Number:
			if t == "number" {
				return true
			}
			if t == "integer" {
				if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
					return true
				}
				if f, err := x.Float64(); err == nil && f == float64(int64(f)) && !strings.ContainsAny(string(x), "eE.") {
					return true
				}
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		}
	}
	return false
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "a number (" + string(x) + ")"
		}
		return "an integer (" + string(x) + ")"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a value"
}

// canonical returns input as canonical JSON: object keys sorted, no insignificant space,
// numbers as written. Two calls with the same canonical arguments are the same call.
func canonical(input json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	d := json.NewDecoder(bytes.NewReader(input))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return json.Marshal(v)
}

// decodeStrict decodes input into v, refusing unknown fields and trailing data.
func decodeStrict(input json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(input))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
