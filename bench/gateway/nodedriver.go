package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// nodeDriver calls through the official Node SDKs: one node process (node/driver.mjs) that
// takes a call a line on stdin and answers a result a line on stdout.
type nodeDriver struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	mu     sync.Mutex
	nextID int
	wait   map[int]chan Result
	stderr bytes.Buffer // the SDKs log frames they could not parse here
	done   chan struct{}
}

// nodeAvailable says whether node and npm are on the PATH.
func nodeAvailable() bool {
	_, e1 := exec.LookPath("node")
	_, e2 := exec.LookPath("npm")
	return e1 == nil && e2 == nil
}

// installNode runs npm ci in dir unless node_modules is there and newer than the lock file.
func installNode(dir string, log io.Writer) error {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if nm, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && nm.ModTime().After(lock.ModTime()) {
		return nil
	}
	fmt.Fprintf(log, "npm ci in %s\n", dir)
	cmd := exec.Command("npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci: %v\n%s", err, out.Bytes())
	}
	return nil
}

func startNodeDriver(dir string) (*nodeDriver, error) {
	d := &nodeDriver{wait: map[int]chan Result{}, done: make(chan struct{})}
	d.cmd = exec.Command("node", "driver.mjs")
	d.cmd.Dir = dir
	d.cmd.Stderr = &lockedWriter{w: &d.stderr, mu: &d.mu}
	var err error
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var r Result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				continue
			}
			d.mu.Lock()
			ch := d.wait[r.ID]
			delete(d.wait, r.ID)
			d.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}()
	return d, nil
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (d *nodeDriver) Name() string { return "node" }

func (d *nodeDriver) Do(ctx context.Context, c Call) Result {
	ch := make(chan Result, 1)
	d.mu.Lock()
	d.nextID++
	c.ID = d.nextID
	d.wait[c.ID] = ch
	line, _ := json.Marshal(c)
	line = append(line, '\n')
	_, err := d.in.Write(line)
	d.mu.Unlock()
	if err != nil {
		return Result{ID: c.ID, Err: &CallError{Kind: "driver", Message: err.Error()}}
	}
	// The driver enforces c.TimeoutMS itself; this only guards against a driver that died.
	guard := time.Duration(c.TimeoutMS)*time.Millisecond + 30*time.Second
	select {
	case r := <-ch:
		return r
	case <-d.done:
		return Result{ID: c.ID, Err: &CallError{Kind: "driver", Message: "node exited: " + d.tail()}}
	case <-time.After(guard):
		return Result{ID: c.ID, Err: &CallError{Kind: "driver", Message: "node gave no answer"}}
	case <-ctx.Done():
		return Result{ID: c.ID, Err: &CallError{Kind: "timeout", Message: ctx.Err().Error()}}
	}
}

func (d *nodeDriver) tail() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.stderr.Bytes()
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (d *nodeDriver) Close() error {
	d.in.Close()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
	}
	err := d.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}
