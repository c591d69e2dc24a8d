package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// reqInfo is what the gateway reads of a request body: the top-level "model" string (its value
// and the byte span of the string, quotes included, for rewriting it) and "stream".
type reqInfo struct {
	model      string
	modelStart int
	modelEnd   int
	stream     bool
}

var errNotObject = errors.New("the body is not a JSON object")

// scanRequest reads the top-level keys model and stream of a JSON object without decoding the
// rest (it skips nested values byte by byte). It does not validate the parts it skips: the
// upstream does, and says so in its own words.
func scanRequest(b []byte) (reqInfo, error) {
	var ri reqInfo
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ri, errNotObject
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return ri, errors.New("the body ends inside the object")
		}
		if b[i] == '}' {
			return ri, nil
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return ri, errors.New("malformed JSON: a key is not a string")
		}
		ks := i
		ke, err := skipString(b, i)
		if err != nil {
			return ri, err
		}
		key := b[ks+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return ri, errors.New("malformed JSON: no ':' after a key")
		}
		i = skipWS(b, i+1)
		vs := i
		ve, err := skipValue(b, i)
		if err != nil {
			return ri, err
		}
		switch string(key) {
		case "model":
			if b[vs] != '"' {
				return ri, errors.New("model is not a string")
			}
			raw := b[vs:ve]
			if bytes.IndexByte(raw, '\\') >= 0 {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					return ri, errors.New("model is not a valid string")
				}
				ri.model = s
			} else {
				ri.model = string(raw[1 : len(raw)-1])
			}
			ri.modelStart, ri.modelEnd = vs, ve
		case "stream":
			ri.stream = string(b[vs:ve]) == "true"
		}
		i = ve
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a '"').
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errors.New("malformed JSON: an unterminated string")
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("malformed JSON: a value is missing")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errors.New("malformed JSON: an unterminated object or array")
	}
	s := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
		i++
	}
	if i == s {
		return 0, errors.New("malformed JSON: a value is missing")
	}
	return i, nil
}

// maxDepth is the deepest nesting validJSON accepts: encoding/json's own limit.
const maxDepth = 10000

// validJSON reports whether b is one JSON value with nothing but blanks around it: json.Valid's
// answer (the same grammar, invalid UTF-8 inside strings accepted, nesting up to maxDepth), in
// one pass with no function call a byte, several times faster on the bodies and the events the
// gateway checks for every answer.
func validJSON(b []byte) bool {
	var buf [32]byte
	open := buf[:0] // the containers open, innermost last: '{' or '['
	i := 0
	for {
		// A value starts here.
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(open) >= maxDepth {
				return false
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' or ']'
				i++
				break
			}
			open = append(open, c)
			if c == '{' {
				if i = objectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case '"':
			if i = validString(b, i); i < 0 {
				return false
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = validNumber(b, i); i < 0 {
				return false
			}
		}
		// After a value: close what ends here, then expect the next element.
		for {
			i = skipWS(b, i)
			if len(open) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := open[len(open)-1]
			if b[i] == top+2 {
				open = open[:len(open)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i++
			if top == '{' {
				if i = objectKey(b, skipWS(b, i)); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// objectKey checks a key and its ':' at b[i:] and returns the index after the ':' (-1: not
// valid).
func objectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i); i < 0 {
		return -1
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return i + 1
}

// validString checks the string starting at b[i] (a '"') and returns the index past it (-1:
// not valid: unterminated, a control character, a bad escape).
func validString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// literal checks that b[i:] starts with lit and returns the index past it (-1: it does not).
func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validNumber checks the number starting at b[i] (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
// and returns the index past it (-1: not a number).
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return -1
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// withModel returns body with its model replaced by model (the same slice when it is the
// same), appended to dst.
func withModel(dst, body []byte, ri reqInfo, model string) []byte {
	dst = append(dst, body[:ri.modelStart]...)
	dst = strconv.AppendQuote(dst, model)
	return append(dst, body[ri.modelEnd:]...)
}
