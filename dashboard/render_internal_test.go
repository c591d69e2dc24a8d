package dashboard

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0ms"},
		{0, "0ms"},
		{740 * time.Millisecond, "740ms"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"},
		{42 * time.Second, "42s"},
		{5*time.Minute + 7*time.Second, "5m 7s"},
		{25*time.Minute + 7*time.Second, "25m"},
		{3 * time.Hour, "3h"},
		{3*time.Hour + 10*time.Minute, "3h 10m"},
		{50 * time.Hour, "2d 2h"},
		{72 * time.Hour, "3d"},
	} {
		if got := shortDuration(c.d); got != c.want {
			t.Errorf("shortDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{``, 10, ""},
		{`"plain text"`, 100, "plain text"},
		{`{"a":1}`, 100, "{\n  \"a\": 1\n}"},
		{`"ééééé"`, 5, "éé…"},
		{`not json`, 100, "not json"},
	} {
		if got := preview([]byte(c.in), c.n); got != c.want {
			t.Errorf("preview(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestQueryString(t *testing.T) {
	t.Parallel()
	if got := queryString("status", "waiting", "reason", "", "q", "a&b=c"); got != "?status=waiting&q=a%26b%3Dc" {
		t.Errorf("queryString = %q", got)
	}
	if got := queryString("status", ""); got != "" {
		t.Errorf("queryString of empty values = %q", got)
	}
}
