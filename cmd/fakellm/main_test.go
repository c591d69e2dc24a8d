package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunRejects(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("error 529\nexplode"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-script", bad}, "line 2"},
		{[]string{"-script", filepath.Join(t.TempDir(), "missing.txt")}, "read fault script"},
		{[]string{"-addr", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"-addr", "nonsense"}, "-addr"},
	} {
		var out, errw bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errw); code != 2 || !strings.Contains(errw.String(), tc.want) {
			t.Errorf("%v: code %d, stderr %q", tc.args, code, errw.String())
		}
	}
}

func TestRunServes(t *testing.T) {
	script := filepath.Join(t.TempDir(), "faults.txt")
	os.WriteFile(script, []byte("error 529 req=1\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errw bytes.Buffer
	done := make(chan int)
	pr, pw, _ := os.Pipe()
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-script", script}, pw, &errw)
		pw.Close()
	}()
	buf := make([]byte, 256)
	n, _ := pr.Read(buf)
	out.Write(buf[:n])
	_, rest, ok := strings.Cut(out.String(), "http://")
	if !ok {
		t.Fatalf("no address in %q", out.String())
	}
	addr, _, _ := strings.Cut(rest, " ")
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	client := &http.Client{Timeout: 5 * time.Second}
	for _, want := range []int{529, 200} {
		res, err := client.Post("http://"+addr+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("status %d, want %d", res.StatusCode, want)
		}
	}
	client.CloseIdleConnections()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d, stderr %q", code, errw.String())
	}
}
