package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rebound-go/rebound/fakellm"
)

// The keys of the scorecard's set-up. They are made up: the fakes check them, nothing else.
const (
	clientKey    = "rbk-client-scorecard-1"     // what the agents send the gateway
	upstreamKeyA = "sk-upstream-a-0123456789"   // the gateway's key for account A
	upstreamKeyB = "sk-upstream-b-0123456789"   // account B
	upstreamKeyC = "sk-upstream-c-WRONG-012345" // account C requires another key: refused
	keyCRequired = "sk-upstream-c-right-key"
)

// A fake is one fakellm server: an account of a provider (both wires on one server).
type fake struct {
	name string
	h    *fakellm.Handler
	url  string
	srv  *http.Server
}

func startFake(name string, opts fakellm.Options) (*fake, error) {
	if opts.LogSize == 0 {
		opts.LogSize = 20000
	}
	h, err := fakellm.New("", opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &fake{name: name, h: h, url: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (f *fake) close() {
	f.h.Close()
	f.srv.Close()
}

// requests returns the fake's log of generation requests (count_tokens left out) for model
// ("" any).
func (f *fake) requests(model string) []fakellm.RequestRecord {
	var out []fakellm.RequestRecord
	for _, r := range f.h.Requests() {
		generate := r.Path == "/v1/messages" || strings.HasSuffix(r.Path, "/chat/completions")
		if !generate || model != "" && r.Model != model {
			continue
		}
		out = append(out, r)
	}
	return out
}

// gatewayConfig is the configuration of the gateway under test (docs/gateway.md's format).
type gatewayConfig struct {
	ClientKeys []map[string]string `json:"client_keys,omitempty"`
	Redis      string              `json:"redis,omitempty"`
	Prefix     string              `json:"redis_prefix,omitempty"`
	Upstreams  []map[string]any    `json:"upstreams"`
	Routes     map[string][]string `json:"routes"`
	Policy     map[string]any      `json:"policy,omitempty"`
}

// scorecardPolicy is the policy of every scorecard run: the gateway's defaults except shorter
// timeouts, so that a silent upstream costs seconds, not minutes.
var scorecardPolicy = map[string]any{
	"first_token_timeout": "2s",
	"idle_timeout":        "2s",
	"response_timeout":    "5s",
}

// scorecardConfig is the set-up of the scorecard: three accounts of Anthropic (A, B, C) and
// two of OpenAI (A, B) on the fakes, and the chains the scenarios ask for.
func scorecardConfig(a, b, c *fake) gatewayConfig {
	return gatewayConfig{
		ClientKeys: []map[string]string{{"env": "GW_CLIENT_KEY"}},
		Upstreams: []map[string]any{
			{"name": "anthropic-a", "provider": "anthropic", "base_url": a.url, "key_env": "KEY_A",
				"models": []string{"claude-primary", "claude-small", "claude-large", "claude-healthy"}},
			{"name": "anthropic-b", "provider": "anthropic", "base_url": b.url, "key_env": "KEY_B",
				"models": []string{"claude-fallback"}},
			{"name": "anthropic-c", "provider": "anthropic", "base_url": c.url, "key_env": "KEY_C",
				"models": []string{"claude-keyed"}},
			{"name": "openai-a", "provider": "openai", "base_url": a.url + "/v1", "key_env": "KEY_A",
				"models": []string{"gpt-primary", "gpt-quota", "gpt-healthy"}},
			{"name": "openai-b", "provider": "openai", "base_url": b.url + "/v1", "key_env": "KEY_B",
				"models": []string{"gpt-fallback", "gpt-quota"}},
		},
		Routes: map[string][]string{
			"claude-primary": {"anthropic-a/claude-primary", "anthropic-b/claude-fallback"},
			"claude-small":   {"anthropic-a/claude-small", "anthropic-a/claude-large"},
			"claude-keyed":   {"anthropic-c/claude-keyed", "anthropic-b/claude-fallback"},
			"claude-healthy": {"anthropic-a/claude-healthy"},
			"gpt-primary":    {"openai-a/gpt-primary", "openai-b/gpt-fallback"},
			"gpt-quota":      {"openai-a/gpt-quota", "openai-b/gpt-quota"},
			"gpt-healthy":    {"openai-a/gpt-healthy"},
		},
		Policy: scorecardPolicy,
	}
}

// buildRebound builds the rebound command into dir.
func buildRebound(dir string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "rebound")
	fmt.Fprintln(log, "building rebound ...")
	// Built in the root module (the bench module's replace points there), whose go.sum has the
	// command's dependencies.
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/rebound-go/rebound").Output()
	if err != nil {
		return "", fmt.Errorf("go list the rebound module: %v", err)
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/rebound")
	cmd.Dir = strings.TrimSpace(string(root))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build rebound: %v\n%s", err, out.Bytes())
	}
	return bin, nil
}

// A gatewayProc is one `rebound gateway` process (or, in tests, the gateway package serving
// in this process: then cmd is nil and stopFn stops it).
type gatewayProc struct {
	cmd    *exec.Cmd
	url    string
	logs   *bytes.Buffer
	done   chan struct{}
	stopFn func()
}

// A starter starts a gateway with a configuration.
type starter func(cfg gatewayConfig) (*gatewayProc, error)

// binaryStarter starts bin gateway processes, their configuration files in dir.
func binaryStarter(bin, dir string) starter {
	return func(cfg gatewayConfig) (*gatewayProc, error) { return startGateway(bin, dir, cfg) }
}

// gatewayEnv is the environment the gateway reads its keys from.
var gatewayEnv = map[string]string{"GW_CLIENT_KEY": clientKey, "KEY_A": upstreamKeyA, "KEY_B": upstreamKeyB, "KEY_C": upstreamKeyC}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startGateway writes cfg to dir and starts bin gateway with it, and waits for /healthz.
func startGateway(bin, dir string, cfg gatewayConfig) (*gatewayProc, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "gateway-*.json")
	if err != nil {
		return nil, err
	}
	f.Write(b)
	f.Close()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &gatewayProc{url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "gateway", "--config", f.Name(), "--listen", addr)
	p.cmd.Env = os.Environ()
	for k, v := range gatewayEnv {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("rebound gateway exited: %s", p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("rebound gateway: no healthy /healthz in 20s: %v %s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *gatewayProc) pid() int {
	if p.cmd == nil {
		return os.Getpid()
	}
	return p.cmd.Process.Pid
}

// cpu is the gateway's CPU time so far (this process's when it runs in-process).
func (p *gatewayProc) cpu() time.Duration {
	if p.cmd == nil {
		return selfCPU()
	}
	d, _ := cpuTime(p.pid())
	return d
}

func (p *gatewayProc) stop() {
	if p.cmd == nil {
		if p.stopFn != nil {
			p.stopFn()
		}
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// alive says whether the process still runs (it did not crash).
func (p *gatewayProc) alive() bool {
	if p.cmd == nil {
		return true
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// rssKB reads the process's resident set size from /proc.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuTime reads the CPU time (user plus system, every thread) a process has used so far from
// /proc/<pid>/stat, to the clock tick (10 ms): over thousands of requests that is well under a
// microsecond a request, and unlike a latency it does not change with what else runs.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields after it are 3 (state) on.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// selfCPU is this process's CPU time so far (the generator and the fake; the gateway too when
// it runs in-process), to the microsecond.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
