package escalate_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/rebound-go/rebound"
	"github.com/rebound-go/rebound/escalate"
)

func TestRedactorText(t *testing.T) {
	r := escalate.NewRedactor("customer_ssn")
	const R = escalate.Redacted
	hdr := fmt.Sprint(http.Header{"Authorization": {"Bearer abcdefgh12345"}, "X-Api-Key": {"k1"}})
	cases := []struct{ in, want string }{
		{"key sk-ant-api03-AbCdEf0123456789_-xyzXYZ-AA end", "key " + R + " end"},
		{"OPENAI=sk-proj-0123456789abcdefABCDEF_x", "OPENAI=" + R},
		{"(sk-0123456789abcdefghijkl)", "(" + R + ")"},
		{"sk-live-0123456789abcdefgh", R},
		{"risk-assessment-procedures-for-everyone", "risk-assessment-procedures-for-everyone"},
		{"sk-short", "sk-short"},
		{"Authorization: Bearer abc.def-123_XYZ=", "Authorization: " + R},
		{"authorization=Basic dXNlcjpwYXNz, next", "authorization=" + R + ", next"},
		{"got bearer eyJhbGciOi.payload12.sig in header", "got bearer " + R + " in header"},
		{"x-api-key: k-12345\r\nHost: api", "x-api-key: " + R + "\r\nHost: api"},
		{"X-API-KEY=abc&model=x", "X-API-KEY=" + R + "&model=x"},
		{`{"Authorization": "Bearer abc def", "model": "m"}`, `{"Authorization": "` + R + `", "model": "m"}`},
		{`{\"x-api-key\":\"k-1\",\"a\":1}`, `{\"x-api-key\":\"` + R + `\",\"a\":1}`},
		{hdr, "map[Authorization:" + R + " X-Api-Key:" + R + "]"},
		{"openai_api_key='k-1'", "openai_api_key='" + R + "'"},
		{"customer_ssn: 078-05-1120.", "customer_ssn: " + R},
		{"password=hunter2 and the rest", "password=" + R + " and the rest"},
		{"postgres://app:s3cret@db:5432/x", "postgres://app:" + R + "@db:5432/x"},
		{"the bearer of bad news", "the bearer of bad news"},
		{"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK==\n-----END RSA PRIVATE KEY-----\nend", "key:\n" + R + "\nend"},
		{"X-Auth-Token: t0k3n", "X-Auth-Token: " + R},
		{"no secrets here: status 529 overloaded_error", "no secrets here: status 529 overloaded_error"},
		// Shapes found missing in issue 12.
		{"dial redis://:hunter2pw@cache:6379/0 failed", "dial redis://:" + R + "@cache:6379/0 failed"},
		{"postgres://app:p/ss@word@db:5432/x", "postgres://app:" + R + "@db:5432/x"},
		{"amqp://u:a@b/c@mq/vhost", "amqp://u:" + R + "@mq/vhost"},
		{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=" + R},
		{"aws keys AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.", "aws keys " + R + " " + R + "."},
		{"aws commit 3f786850e387550fdab836ed7e6dc881de23001b ok", "aws commit 3f786850e387550fdab836ed7e6dc881de23001b ok"},
		{"GET /cb?code=1&token=Zq81xK3&x=2", "GET /cb?code=1&token=" + R + "&x=2"},
		{"secret_key=abc123 rest", "secret_key=" + R + " rest"},
		{"MYSQL_PWD=Tr0ub4dor mysql -u root", "MYSQL_PWD=" + R + " mysql -u root"},
		{"slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx posted", "slack " + R + " posted"},
		{"used 1200 tokens: fine", "used 1200 tokens: fine"},
		{"", ""},
	}
	for _, c := range cases {
		if got := r.Text(c.in); got != c.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := r.Text(c.want); got != c.want {
			t.Errorf("Text is not idempotent on %q: %q", c.want, got)
		}
	}
}

func TestRedactorJSON(t *testing.T) {
	r := escalate.NewRedactor("Customer-SSN")
	const R = escalate.Redacted
	cases := []struct{ in, want string }{
		{`{"a":1,"customer_ssn":"078","nested":{"X-Api-Key":{"k":"v"}},"list":[{"password":7}]}`,
			`{"a":1,"customer_ssn":"` + R + `","list":[{"password":"` + R + `"}],"nested":{"X-Api-Key":"` + R + `"}}`},
		{`{"aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","SecretAccessKey":"x","token":5,"secret_key":["a"],"MYSQL_PWD":"p","api_key":"short"}`,
			`{"MYSQL_PWD":"` + R + `","SecretAccessKey":"` + R + `","api_key":"` + R + `","aws_secret_access_key":"` + R + `","secret_key":"` + R + `","token":"` + R + `"}`},
		{`{"note":"aws: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, `{"note":"aws: ` + R + `"}`},
		{`{"openai_api_key":"x","tokens":12,"secretary":"Bo","n":12345678901234567890}`,
			`{"n":12345678901234567890,"openai_api_key":"` + R + `","secretary":"Bo","tokens":12}`},
		{`["Authorization: Bearer abcdefgh123", "<b>&</b>"]`, `["Authorization: ` + R + `","<b>&</b>"]`},
		{`not json sk-0123456789abcdefghijkl`, `"not json ` + R + `"`},
		{`{"a":1} {"b":2}`, `"{\"a\":1} {\"b\":2}"`},
		{`null`, `null`},
		{``, ``},
	}
	for _, c := range cases {
		got := r.JSON(json.RawMessage(c.in))
		if string(got) != c.want {
			t.Errorf("JSON(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestRedactorField(t *testing.T) {
	r := escalate.NewRedactor("ssn")
	for key, want := range map[string]bool{
		"Authorization": true, "x-api-key": true, "X_API_KEY": true, "anthropicApiKey": true,
		"db_password": true, "client_secret": true, "customer_ssn": true, "password_hint": false,
		"tokens": false, "name": false, "apiKeyId": false, "token": true, "csrf_token": true,
		"secret_key": true, "aws_secret_access_key": true, "MYSQL_PWD": true, "input_tokens": false,
	} {
		if got := r.Field(key); got != want {
			t.Errorf("Field(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestRedactorMessages(t *testing.T) {
	r := escalate.NewRedactor()
	in := []rebound.Message{rebound.User("my key is sk-proj-0123456789abcdefABCDEF"), rebound.Assistant("ok")}
	out := r.Messages(in)
	if out[0].Content != "my key is "+escalate.Redacted || !reflect.DeepEqual(out[1], in[1]) || out[0].Role != rebound.RoleUser {
		t.Errorf("Messages = %+v", out)
	}
	if !strings.Contains(in[0].Content, "sk-proj") {
		t.Errorf("Messages changed its input")
	}
	blocks := r.Messages([]rebound.Message{{Role: rebound.RoleAssistant, Blocks: []rebound.Block{
		{Type: "text", Text: "key sk-ant-api03-blockKEY0123456789"},
		{Type: "tool_use", ID: "t1", Name: "fetch", Input: json.RawMessage(`{"api_key":"k-planted","q":"x"}`)},
		{Type: "tool_result", CallID: "t1", Content: []rebound.Block{{Type: "text", Text: "Bearer planted0123456789"}}},
		rebound.Opaque("anthropic", json.RawMessage(`{"type":"thinking","thinking":"the key is sk-ant-api03-plantedTHINK0123456789","signature":"s"}`)),
	}}})
	if b, _ := json.Marshal(blocks); strings.Contains(string(b), "blockKEY") || strings.Contains(string(b), "planted") {
		t.Errorf("Messages left a secret in blocks: %s", b)
	}
	if r.Messages(nil) != nil {
		t.Errorf("Messages(nil) is not nil")
	}
}

// FuzzRedactorJSON checks, for any input, that the redacted state is valid JSON, that
// redacting again changes nothing, and that a key planted in it does not survive.
func FuzzRedactorJSON(f *testing.F) {
	f.Add([]byte(`{"a":"b","Authorization":"Bearer x"}`), "sk-ant-api03-0123456789abcdefXYZ")
	f.Add([]byte(`["x-api-key: k1", 1, null, {"password": [1,2]}]`), "sk-proj-abcdefghijklmnopqrstu")
	f.Add([]byte(`{"s":"{\"api_key\":\"v\"}"}`), "sk-0123456789abcdefghij")
	f.Add([]byte(`not json`), "sk-0123456789abcdefghij")
	r := escalate.NewRedactor("customer_ssn")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		out := r.JSON(raw)
		if out != nil && !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q is not valid JSON", raw, out)
		}
		if again := r.JSON(out); !sameJSON(again, out) {
			t.Fatalf("redacting twice changed %q to %q", out, again)
		}
		if !strings.HasPrefix(key, "sk-") || len(key) < 19 || strings.Trim(key[3:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			return
		}
		planted, _ := json.Marshal(map[string]any{"data": json.RawMessage(out), "note": "key " + key})
		if strings.Contains(string(r.JSON(planted)), key) {
			t.Fatalf("planted key %q survived in %s", key, r.JSON(planted))
		}
	})
}

func sameJSON(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// FuzzRedactorText checks that redaction is idempotent on any text and never lets a planted
// key through.
func FuzzRedactorText(f *testing.F) {
	f.Add("Authorization: Bearer abc", "sk-ant-api03-0123456789abcdef")
	f.Add(`{"x-api-key":"v"} password=x`, "sk-proj-0123456789abcdefghi")
	f.Add("map[Authorization:[Basic x]]", "sk-abcdefghijklmnopqrstu")
	r := escalate.NewRedactor("customer_ssn")
	f.Fuzz(func(t *testing.T, s, key string) {
		out := r.Text(s)
		if again := r.Text(out); again != out {
			t.Fatalf("redacting %q twice: %q then %q", s, out, again)
		}
		if !strings.HasPrefix(key, "sk-") || len(key) < 19 || strings.Trim(key[3:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			return
		}
		if got := r.Text(s + " " + key + " " + s); strings.Contains(got, key) {
			t.Fatalf("planted key %q survived: %q", key, got)
		}
	})
}

func BenchmarkRedactorText(b *testing.B) {
	r := escalate.NewRedactor()
	texts := []string{
		"gave up after 5 attempts (exhausted): overloaded from anthropic: status 529 overloaded_error: Overloaded",
		"Research topic: tides. Write section 2 of 3 about the causes of tides, in about 400 words, citing sources.",
		"401 from https://api.openai.com with Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwx",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			r.Text(s)
		}
	}
}
