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

// withModel returns body with its model replaced by model (the same slice when it is the
// same), appended to dst.
func withModel(dst, body []byte, ri reqInfo, model string) []byte {
	dst = append(dst, body[:ri.modelStart]...)
	dst = strconv.AppendQuote(dst, model)
	return append(dst, body[ri.modelEnd:]...)
}
