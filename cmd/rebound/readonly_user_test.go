package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/rebound-go/rebound/store/sqlite"
)

// The environment of the test binary run again as another user by TestReadOnlyStoreOfAnotherUser.
const (
	readOnlyStoreEnv = "REBOUND_TEST_READONLY_STORE"
	readOnlyEscEnv   = "REBOUND_TEST_READONLY_ESCALATION"
)

// nobody is the unprivileged uid and gid the store is read as, when the test runs as root.
const nobody = 65534

// A store file mode 0444 in a directory mode 0555, read by a user who can write neither: the
// commands that read answer, serve starts and shows it, and every write fails naming the file.
// Root writes any file whatever its mode, so as root the test runs its own binary again as uid
// and gid 65534; as anyone else it checks directly.
func TestReadOnlyStoreOfAnotherUser(t *testing.T) {
	if os.Getenv(readOnlyStoreEnv) != "" {
		t.Skip("this is the other user's process: TestReadOnlyStoreAsThisUser checks")
	}
	root := traversableTempDir(t)
	t.Chdir(root) // the demo writes ./reports
	dir := filepath.Join(root, "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rebound.db")
	store := "--store=sqlite:" + path
	mustCode(t, cli(t, nil, "demo", "--run-id", "ro-1", "--faults", noFaults(t), store), exitEscalated, "demo")
	esc := escalationID(t, store)
	t.Cleanup(func() { os.Chmod(dir, 0o755) }) // for the temporary directory's removal
	// readOnly makes the file 0444 and its directory 0555 after prepare ran on them writable.
	readOnly := func(prepare func()) {
		t.Helper()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		prepare()
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	wal := func() bool { _, err := os.Stat(path + "-wal"); return err == nil }

	// No process has the store open: no -wal or -shm file, and none can be created.
	readOnly(func() {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close() // the last connection to close removes the -wal and -shm files
		if wal() {
			t.Fatal("closing the store left its -wal file")
		}
	})
	checkAsAnotherUser(t, root, path, esc)
	// A reader left -wal and -shm files, which this user cannot write.
	readOnly(func() {
		mustCode(t, cli(t, nil, "escalations", "list", store), 0, "escalations list")
		if !wal() {
			t.Fatal("a read-only open left no -wal file")
		}
	})
	checkAsAnotherUser(t, root, path, esc)
}

// checkAsAnotherUser runs checkReadOnlyStore as a user who can write neither the store at path
// nor its directory: this user unless it is root, else uid and gid 65534, running this test
// binary (copied into root, which that user may enter).
func checkAsAnotherUser(t *testing.T, root, path, esc string) {
	t.Helper()
	if os.Geteuid() != 0 {
		checkReadOnlyStore(t, path, esc)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "rebound.test")
	if _, err := os.Stat(bin); err != nil {
		copyFile(t, self, bin, 0o755)
	}
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyStoreAsThisUser$", "-test.v", "-test.count=1")
	cmd.Dir = root
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "TMPDIR=" + os.TempDir(),
		readOnlyStoreEnv + "=" + path, readOnlyEscEnv + "=" + esc}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("run the test as uid %d: %v", nobody, err)
		}
		t.Skipf("this machine gives no way to run a process as uid %d: %v", nobody, err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReadOnlyStoreAsThisUser") {
		t.Fatalf("as uid %d: %v\n%s", nobody, err, out)
	}
}

// TestReadOnlyStoreAsThisUser is TestReadOnlyStoreOfAnotherUser's check in the process it runs
// as another user.
func TestReadOnlyStoreAsThisUser(t *testing.T) {
	path := os.Getenv(readOnlyStoreEnv)
	if path == "" {
		t.Skip("run by TestReadOnlyStoreOfAnotherUser as a user who cannot write the store")
	}
	checkReadOnlyStore(t, path, os.Getenv(readOnlyEscEnv))
}

// checkReadOnlyStore checks, as a user who cannot write the store at path (run ro-1, its open
// escalation esc), that what reads works and what writes fails naming the file.
func checkReadOnlyStore(t *testing.T, path, esc string) {
	store := "--store=sqlite:" + path
	for _, args := range [][]string{{"runs", "list"}, {"runs", "show", "ro-1"}, {"escalations", "list"}, {"escalations", "show", esc}} {
		r := cli(t, nil, append(args, store)...)
		if r.code != 0 || !strings.Contains(r.stdout, "ro-1") {
			t.Errorf("%s on a read-only store: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	r := cli(t, nil, "escalations", "resolve", esc, "--action", "approve", "--by", "ana", store)
	if r.code != exitUsage || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("escalations resolve on a read-only store: exit %d %s, want %d naming %s read-only", r.code, r.stderr, exitUsage, path)
	}
	if err := serveWorker(t, store); !errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "--worker") || !strings.Contains(err.Error(), path) {
		t.Errorf("serve --worker on a read-only store: %v, want a usage error naming --worker and %s", err, path)
	}

	base := startServe(t, store, "")
	if code, body := get(t, base+"/api/v1/escalations/"+esc, ""); code != http.StatusOK || !strings.Contains(body, "ro-1") {
		t.Errorf("API read of a read-only store: %d %s", code, body)
	}
	resp, err := http.Post(base+"/api/v1/escalations/"+esc+"/resolve", "application/json",
		strings.NewReader(`{"by":"ana","action":"approve"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), path) || !strings.Contains(string(body), "read-only") {
		t.Errorf("API resolve on a read-only store: %d %s, want 503 naming %s read-only", resp.StatusCode, body, path)
	}
	code, page := resolveByForm(t, base, esc)
	if code != http.StatusServiceUnavailable || !strings.Contains(page, "read-only") || !strings.Contains(page, filepath.Base(path)) {
		t.Errorf("form resolve on a read-only store: %d, want 503 with the page saying the store is read-only:\n%s", code, page)
	}
	_, body2 := get(t, base+"/api/v1/escalations/"+esc, "")
	var item struct{ Status string }
	if err := json.Unmarshal([]byte(body2), &item); err != nil || item.Status != "open" {
		t.Errorf("after refused decisions the item is %q (%v), want open", item.Status, err)
	}
}

// serveWorker runs `rebound serve --worker` on store in this process and returns its error; if
// it starts serving, it is stopped at once and the error says so.
func serveWorker(t *testing.T, store string) error {
	t.Helper()
	var out strings.Builder
	g := &globals{env: env{stdout: &out, stderr: &out, getenv: func(string) string { return "" }},
		store: strings.TrimPrefix(store, "--store="), storeSet: true}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := false
	c := &serveCmd{g: g, addr: "127.0.0.1:0", ready: func(string) { started = true; cancel() }}
	c.dash.worker = true
	err := c.run(ctx, nil, &out)
	if started {
		return fmt.Errorf("serve --worker started (and was stopped): %v\n%s", err, out.String())
	}
	return err
}

var formCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// resolveByForm approves escalation esc through the dashboard's form, as a browser would, and
// returns the answer's status and page.
func resolveByForm(t *testing.T, base, esc string) (int, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	resp, err := client.Get(base + "/escalations/" + esc)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formCSRF.FindSubmatch(page)
	if m == nil {
		t.Fatalf("the escalation page has no form token:\n%s", page)
	}
	form := url.Values{"csrf": {string(m[1])}, "action": {"approve"}, "by": {"ana"}}
	req, err := http.NewRequest(http.MethodPost, base+"/escalations/"+esc+"/resolve", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// traversableTempDir is a temporary directory that another user may enter (t.TempDir's are
// mode 0700, and so is the directory above them).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
