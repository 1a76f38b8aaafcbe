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

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// TestMakeRunStopsCleanly runs `make run | tee` as a terminal would (its own process group,
// SIGINT at its default), waits until it is up, then sends SIGINT to the whole group, as Ctrl-C
// does: tee dies at once, so every later write of the run goes to a broken pipe. After make
// returns, no process the run started may be left (kube-apiserver and etcd run in their own
// process group, which the SIGINT does not reach), its temporary folder must be gone, and make
// must not report an error.
func TestMakeRunStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make run: a control plane, the manager and three agents")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	teeOut, makeErr := filepath.Join(dir, "tee.out"), filepath.Join(dir, "make.err")
	// The generators are skipped (-o): the tests of their outputs are elsewhere. make's own
	// messages go to a file, since the pipe's reader dies with the Ctrl-C.
	script := `make -o manifests -o generate -o fmt -o vet run 2>"$1" | tee "$2" >/dev/null`
	cmd := exec.CommandContext(ctx, "bash", "-c", script, "run", makeErr, teeOut)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = withoutEnv(os.Environ(), "KUBECONFIG")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child inherits an ignored SIGINT (this test may run in the background); with a handler
	// installed here, exec resets it to the default, as in a terminal.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT)
	err := cmd.Start()
	signal.Stop(sigs)
	if err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			// kube-apiserver and etcd run in their own process group: kill them by pid.
			for _, p := range descendants(t, pgid) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}()

	kubeconfigLine := regexp.MustCompile(`export KUBECONFIG=(\S+)`)
	var out []byte
	for !bytes.Contains(out, []byte("Press Ctrl-C to stop")) {
		select {
		case <-ctx.Done():
			t.Fatalf("make run did not come up: %v\n%s", ctx.Err(), out)
		case err := <-exited:
			killed = true
			msg, _ := os.ReadFile(makeErr)
			t.Fatalf("make run ended before it was up: %v\n%s\n%s", err, out, msg)
		case <-time.After(time.Second):
		}
		out, _ = os.ReadFile(teeOut)
	}
	m := kubeconfigLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no kubeconfig line in the output:\n%s", out)
	}
	tempDir := filepath.Dir(string(m[1]))
	if !strings.Contains(lastLines(string(out), 8), "export KUBECONFIG=") {
		t.Errorf("the kubeconfig line is not among the last lines (logs must not bury it):\n%s", out)
	}
	started := descendants(t, pgid)
	names := map[string]bool{}
	for _, p := range started {
		names[p.comm] = true
	}
	for _, want := range []string{"kube-apiserver", "etcd", "localrun", "agent"} {
		if !names[want] {
			t.Fatalf("no %s among the run's processes %v: the test would prove nothing", want, names)
		}
	}

	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitErr := <-exited
	killed = true
	t.Logf("make run | tee returned: %v", waitErr)
	var left []string
	for _, p := range started {
		if p.alive() {
			left = append(left, p.comm+" "+strconv.Itoa(p.pid))
		}
	}
	if len(left) > 0 {
		for _, p := range started {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		t.Errorf("processes left after Ctrl-C: %v", left)
	}
	if _, err := os.Stat(tempDir); !os.IsNotExist(err) {
		t.Errorf("the temporary folder %s is left after Ctrl-C (%v)", tempDir, err)
		_ = os.RemoveAll(tempDir)
	}
	if msg, _ := os.ReadFile(makeErr); bytes.Contains(msg, []byte("make: ***")) {
		t.Errorf("make reported an error after Ctrl-C:\n%s", msg)
	}
}

// proc is a process seen in /proc: its start time tells it from a later one with the same pid.
type proc struct {
	pid   int
	comm  string
	start string
}

// alive reports whether the process still runs (a zombie has stopped).
func (p proc) alive() bool {
	st, ok := readStat(p.pid)
	return ok && st.start == p.start && st.state != "Z"
}

type stat struct {
	ppid         int
	state, start string
	comm         string
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return stat{}, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{ppid: ppid, state: f[0], start: f[19], comm: s[open+1 : end]}, true
}

// descendants lists every live process below root, whatever its process group.
func descendants(t *testing.T, root int) []proc {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	stats := map[int]stat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			parent[pid], stats[pid] = st.ppid, st
		}
	}
	var out []proc
	for pid, st := range stats {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == root {
				out = append(out, proc{pid: pid, comm: st.comm, start: st.start})
				break
			}
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
