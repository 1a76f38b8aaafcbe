/*
Copyright 2026 The kube-multipath Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package realdaemon runs the real multipathd for tests, on a machine whose kernel has no
// device-mapper: in a private mount and network namespace (a tmpfs on /run, the test's
// directory bind-mounted over /etc/multipath, its own abstract socket), with an LD_PRELOAD
// shim of libdevmapper (testdata/dmshim.c, compiled with gcc at test time) that reports a
// driver with the multipath target and no maps. The daemon parses its configuration, answers
// on its socket and reconfigures as it would on a node; it has no paths and no maps.
//
// It needs multipathd, gcc and root (unshare -m -n). Where one is missing Start skips the test,
// except when CI=true, where it fails it: CI must run the real daemon.
package realdaemon

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

//go:embed testdata/dmshim.c
var shimSource []byte

// Daemon is a running multipathd.
type Daemon struct {
	// Client talks to the daemon: each command is sent from a thread in its network namespace.
	Client multipathd.Client
	// Ready is how long the daemon took to answer its first command.
	Ready time.Duration

	cmd    *exec.Cmd
	output *syncBuffer
}

// Available returns nil when the real daemon can run here, else why not.
func Available() error {
	for _, bin := range []string{"multipathd", "gcc", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed", bin)
		}
	}
	if out, err := exec.Command("unshare", "-m", "-n", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("cannot make private mount and network namespaces (needs root): %v: %s", err, out)
	}
	return nil
}

// Start runs multipathd with etcMultipath as its /etc/multipath (and an empty
// /etc/multipath.conf) until the test ends.
func Start(t testing.TB, etcMultipath string) *Daemon {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the real multipathd is required on CI: %v", err)
		}
		t.Skipf("the real multipathd cannot run here: %v", err)
	}
	dir := t.TempDir()
	src, shim := filepath.Join(dir, "dmshim.c"), filepath.Join(dir, "dmshim.so")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", shim, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the libdevmapper shim: %v: %s", err, out)
	}
	empty := filepath.Join(dir, "multipath.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// $1 is /etc/multipath's stand-in, $2 the empty multipath.conf; no test data reaches the
	// shell text. -d: foreground, -s: no timestamps, -w: the per-map dm event waiter threads
	// instead of polling /dev/mapper/control, which does not exist here.
	const script = `mount -t tmpfs tmpfs /run && mount --bind "$1" /etc/multipath &&
{ [ ! -e /etc/multipath.conf ] || mount --bind "$2" /etc/multipath.conf; } && exec multipathd -d -s -w`
	cmd := exec.Command("unshare", "-m", "-n", "sh", "-c", script, "sh", etcMultipath, empty)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig fires when the thread that forked the daemon ends, not the process: fork it
	// from a thread locked to a goroutine that lives as long as the daemon does, so that the
	// daemon dies with the test binary and never before its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		close(exited)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cmd: cmd, output: out}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("multipathd output:\n%s", out.String())
		}
	})

	// unshare and sh exec in place: the daemon keeps the pid, and so the namespaces, we started.
	d.Client = &nsClient{netns: fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), inner: &multipathd.SocketClient{Timeout: 5 * time.Second}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := d.Client.ShowMapsJSON(context.Background())
		if err == nil {
			d.Ready = time.Since(start)
			return d
		}
		select {
		case <-exited:
			t.Fatalf("multipathd exited: %v\n%s", cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("multipathd not ready after 10s: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output is what the daemon logged so far.
func (d *Daemon) Output() string { return d.output.String() }

// nsClient sends each command from a thread that joined the daemon's network namespace, where
// its abstract socket lives. The thread is thrown away afterwards.
type nsClient struct {
	netns string
	inner *multipathd.SocketClient
}

func (c *nsClient) in(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := syscall.Open(c.netns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer syscall.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", c.netns, err)
			return
		}
		done <- f()
	}()
	return <-done
}

func (c *nsClient) ShowMapsJSON(ctx context.Context) (b []byte, err error) {
	err = c.in(func() error { b, err = c.inner.ShowMapsJSON(ctx); return err })
	return b, err
}

func (c *nsClient) Reconfigure(ctx context.Context) error {
	return c.in(func() error { return c.inner.Reconfigure(ctx) })
}

func (c *nsClient) Version(ctx context.Context) (v string, err error) {
	err = c.in(func() error { v, err = c.inner.Version(ctx); return err })
	return v, err
}

func (c *nsClient) Command(ctx context.Context, args ...string) (b []byte, err error) {
	err = c.in(func() error { b, err = c.inner.Command(ctx, args...); return err })
	return b, err
}

var _ multipathd.Client = (*nsClient)(nil)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
