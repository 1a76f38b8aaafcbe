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

// Package realdaemon runs the real multipathd, for tests and for `make run`'s simulated nodes,
// on a machine whose kernel has no device-mapper: in a private mount and network namespace (a
// tmpfs on /run, a given directory seen as /etc/multipath, an empty /etc/multipath.conf: package
// mountns), with an LD_PRELOAD shim of libdevmapper (testdata/dmshim.c, compiled
// with gcc when the daemon starts) that reports a driver with the multipath target and no maps.
// The daemon parses its configuration, answers on its socket and reconfigures as it would on a
// node; it has no paths and no maps.
//
// By default it listens on its usual abstract socket inside its own network namespace, and
// Client sends each command from a thread that joins that namespace. With Options.Address it
// listens where this process can reach it: the socket is made here and handed to multipathd
// the way systemd's multipathd.socket does (LISTEN_FDS), so another process, an agent binary
// for one, talks to it with a plain multipathd.SocketClient.
//
// It needs multipathd, gcc and root; Available says whether this machine can.
// Start is for tests: where the daemon cannot run it skips the test, except when CI=true, where
// it fails it: CI must run the real daemon. Run is for programs.
package realdaemon

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kube-multipath/kube-multipath/internal/mountns"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

//go:embed testdata/dmshim.c
var shimSource []byte

// Daemon is a running multipathd.
type Daemon struct {
	// Client talks to the daemon.
	Client multipathd.Client
	// Ready is how long the daemon took to answer its first command.
	Ready time.Duration

	cmd     *exec.Cmd
	output  *syncBuffer
	exited  chan struct{}
	address string
	cleanup func()
	once    sync.Once
}

// Options tune Run.
type Options struct {
	// Address, when set, is the socket the daemon listens on, as a multipathd.SocketClient takes
	// it (a filesystem path, or an abstract name with a leading '@'), in this process's network
	// namespace. Empty: the daemon's usual abstract socket, in its private network namespace.
	Address string
	// Dir holds the compiled shim and the empty multipath.conf. Empty: a temporary folder that
	// Close removes.
	Dir string
	// Output, when set, also receives what the daemon logs.
	Output io.Writer
}

// Available returns nil when the real daemon can run here, else why not.
func Available() error {
	for _, bin := range []string{"multipathd", "gcc", "sh"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed", bin)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("private mount and network namespaces need root")
	}
	return nil
}

// CompileShim compiles the libdevmapper shim into dir and returns its path, for LD_PRELOAD.
// Besides the daemon, it lets `multipath -a` run where the kernel has no device-mapper.
func CompileShim(dir string) (string, error) {
	src, shim := filepath.Join(dir, "dmshim.c"), filepath.Join(dir, "dmshim.so")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", shim, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling the libdevmapper shim: %v: %s", err, out)
	}
	return shim, nil
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
	d, err := Run(etcMultipath, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		if t.Failed() {
			t.Logf("multipathd output:\n%s", d.Output())
		}
	})
	return d
}

// Run runs multipathd with etcMultipath as its /etc/multipath (and an empty
// /etc/multipath.conf), and returns once it answers. Close stops it; it also dies with this
// process.
func Run(etcMultipath string, opts Options) (_ *Daemon, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var d *Daemon
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil && d == nil { // once d exists, d.stop cleans up
			cleanup()
		}
	}()
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "kube-multipath-multipathd-"); err != nil {
			return nil, err
		}
		cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	}
	shim, err := CompileShim(dir)
	if err != nil {
		return nil, err
	}
	// -d: foreground, -s: no timestamps, -w: the per-map dm event waiter threads instead of
	// polling /dev/mapper/control, which does not exist here.
	args := []string{"multipathd", "-d", "-s", "-w"}
	var listener *os.File
	if opts.Address != "" {
		if listener, err = listen(opts.Address); err != nil {
			return nil, err
		}
		defer listener.Close() // the daemon has its own copy
		if !strings.HasPrefix(opts.Address, "@") {
			cleanups = append(cleanups, func() { _ = os.Remove(opts.Address) })
		}
		// Socket activation (sd_listen_fds(3)): the socket is fd 3, and LISTEN_PID must be the
		// daemon's pid, which is the shell's, since sh execs in place. No caller data reaches
		// the shell text.
		args = []string{"sh", "-c", "LISTEN_FDS=1 LISTEN_PID=$$ exec multipathd -d -s -w"}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim)
	for _, v := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		cmd.Env = append(cmd.Env, v+"=") // never inherited from this process
	}
	if listener != nil {
		cmd.ExtraFiles = []*os.File{listener} // fd 3
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if opts.Output != nil {
		cmd.Stdout = io.MultiWriter(out, opts.Output)
		cmd.Stderr = cmd.Stdout
	}
	// The daemon sees etcMultipath as /etc/multipath, an empty multipath.conf and a private
	// /run, in mount and network namespaces of its own (package mountns, the one the agent
	// validates with: it works on a machine without /etc/multipath and never writes to /etc).
	// mountns forks it from a thread that lives as long as it does, so Pdeathsig kills it with
	// this process and never before Close.
	view := mountns.View{Root: "/", EtcMultipath: etcMultipath, HideMultipathConf: true, PrivateNetwork: true}
	start := time.Now()
	p, err := view.Start(cmd)
	if err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		<-p.Done
		close(exited)
	}()
	d = &Daemon{cmd: cmd, output: out, exited: exited, address: opts.Address, cleanup: cleanup}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()

	if opts.Address != "" {
		d.Client = &multipathd.SocketClient{Address: opts.Address, Timeout: 5 * time.Second}
	} else {
		// sh execs in place: the daemon keeps the pid, and so the namespaces, we started.
		d.Client = &nsClient{netns: fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), inner: &multipathd.SocketClient{Timeout: 5 * time.Second}}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := d.Client.ShowMapsJSON(context.Background())
		if err == nil {
			d.Ready = time.Since(start)
			return d, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("multipathd exited: %v\n%s", cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("multipathd not ready after 10s: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listen makes the unix socket the daemon will accept on and returns it as a file.
func listen(address string) (*os.File, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: address, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // the daemon keeps listening after this process's copy is closed
	f, err := ln.File()
	_ = ln.Close()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Address is where the daemon listens (Options.Address), or "" for its usual abstract socket
// inside its own network namespace.
func (d *Daemon) Address() string { return d.address }

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Exited is closed when the daemon has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Close stops the daemon (SIGTERM, then SIGKILL after 5 s) and removes what Run made.
func (d *Daemon) Close() error {
	d.stop()
	return nil
}

func (d *Daemon) stop() {
	d.once.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		d.cleanup()
	})
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

func (c *nsClient) ShowPathsRaw(ctx context.Context) (b []byte, err error) {
	err = c.in(func() error { b, err = c.inner.ShowPathsRaw(ctx); return err })
	return b, err
}

var (
	_ multipathd.Client     = (*nsClient)(nil)
	_ multipathd.PathLister = (*nsClient)(nil)
)

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
