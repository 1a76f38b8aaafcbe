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

package hostfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/mountns"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testing/realdaemon"
)

// wwidsWriter adds WWIDs to a host's /etc/multipath/wwids as multipath-tools does: the real
// `multipath -a <wwid>` of the installed multipath-tools, in a private mount namespace whose
// /etc/multipath is the host's (mountns; it needs no daemon and no device, but it does ask the
// device-mapper driver first, so where the kernel has none it runs with realdaemon's shim), or
// else, where multipath-tools is missing or this is not root, a
// writer process doing what remember_wwid does: open O_RDWR|O_CREAT, F_SETLKW a write lock on
// the whole file, read, append "/<wwid>/\n" at the end.
type wwidsWriter struct {
	dir  string // the host's /etc/multipath
	real bool
	// shim, where the kernel has no device-mapper, is realdaemon's libdevmapper shim: with it
	// multipath -a finds a driver and no maps, and runs as on a node.
	shim string
}

func newWWIDsWriter(t *testing.T, th *testHost) *wwidsWriter {
	t.Helper()
	w := &wwidsWriter{dir: th.path(EtcMultipathDir)}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("multipath"); err == nil && os.Geteuid() == 0 {
		if _, err := os.Stat("/dev/mapper/control"); err != nil {
			if w.shim, err = realdaemon.CompileShim(t.TempDir()); err != nil {
				t.Logf("no device-mapper here, and no shim: %v", err)
			}
		}
		probe := "probe" + strconv.Itoa(os.Getpid())
		if err := w.runReal(probe); err == nil && bytes.Contains(readOrEmpty(th.path(WWIDsPath)), []byte("/"+probe+"/")) {
			w.real = true
			// Take the probe out again, as multipath -a's own file would keep it.
			if err := th.editWWIDs(context.Background(), 0, func(cur []byte) ([]byte, error) {
				p, err := ReconcileWWIDs(cur, []string{probe}, nil)
				return p.Content, err
			}); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Logf("multipath -a does not run here (%v): a Go writer takes libmultipath's lock instead", err)
		}
	}
	if os.Getenv("CI") == "true" && !w.real {
		t.Fatal("the real multipath -a is required on CI")
	}
	return w
}

func readOrEmpty(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func (w *wwidsWriter) runReal(wwid string) error {
	cmd := exec.Command("multipath", "-a", wwid)
	if w.shim != "" {
		cmd.Env = append(os.Environ(), "LD_PRELOAD="+w.shim)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := (mountns.View{Root: "/", EtcMultipath: w.dir, HideMultipathConf: true}).Run(cmd); err != nil {
		return fmt.Errorf("%w: %s", err, out.Bytes())
	}
	if !bytes.Contains(out.Bytes(), []byte("'"+wwid+"' added")) {
		return fmt.Errorf("multipath -a %s said %q", wwid, out.Bytes())
	}
	return nil
}

func (w *wwidsWriter) add(wwid string) error {
	if w.real {
		return w.runReal(wwid)
	}
	// fcntl locks belong to a process: a writer in this process would not wait for the
	// agent's lock. The test binary runs itself as the writer.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWWIDsWriter$")
	cmd.Env = append(os.Environ(), helperEnv+"="+w.dir, helperWWIDEnv+"="+wwid)
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("added")) {
		return fmt.Errorf("writer process: %v: %s", err, out)
	}
	return nil
}

const helperEnv, helperWWIDEnv = "KUBE_MULTIPATH_WWIDS_WRITER_DIR", "KUBE_MULTIPATH_WWIDS_WRITER_WWID"

// TestHelperWWIDsWriter is the writer process of wwidsWriter.add, not a test: it does what
// libmultipath's remember_wwid does (lock_file's F_SETLKW write lock on the whole file, then
// write_out_wwid's append at the end when the WWID is not listed yet).
func TestHelperWWIDsWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("the writer process of TestConcurrentWWIDsWriterLosesNothing")
	}
	wwid := os.Getenv(helperWWIDEnv)
	f, err := os.OpenFile(dir+"/wwids", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	cur, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ParseWWIDs(cur), wwid) {
		if len(cur) == 0 {
			if _, err := f.WriteString(WWIDsHeader); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.WriteString("/" + wwid + "/\n"); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("added")
}

// TestConcurrentWWIDsWriterLosesNothing: while a multipath-tools writer keeps adding WWIDs to
// /etc/multipath/wwids, the agent applies, rolls a failed apply back, is killed mid-apply and
// recovers, and tears down. Every entry the writer added is still there at the end, and the
// agent's own entries come and go as the configs say. Writes also land deterministically in
// the windows that matter: after the agent's write and before its rollback or recovery.
func TestConcurrentWWIDsWriterLosesNothing(t *testing.T) {
	th := newHost(t, bootFromSAN)
	w := newWWIDsWriter(t, th)
	t.Logf("real multipath -a: %v", w.real)

	var mu sync.Mutex
	var added []string
	addOne := func(wwid string) {
		if err := w.add(wwid); err != nil {
			t.Errorf("adding %s: %v", wwid, err)
			return
		}
		mu.Lock()
		added = append(added, wwid)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the concurrent writer
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			addOne("3600bg" + strconv.Itoa(i))
		}
	}()
	ctx := context.Background()

	// 1. Apply: wwidA appended.
	mustApply(t, th, render(t, wwidA))

	// 2. A failed apply rolled back: wwidB was appended, a writer adds an entry before the
	// rollback, the map of wwidA is lost so the post-check fails.
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: wwidA, name: "data-6f41", paths: 2})})
	th.hooks.afterReconfigure = func() {
		addOne("3600rollback")
		th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: multipathdtest.EmptyMapsJSON})
	}
	_, err := th.Apply(ctx, render(t, wwidA, wwidB))
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.RolledBack {
		t.Fatalf("Apply = %v, want a rolled-back failure", err)
	}
	if got := ParseWWIDs(th.readBytes(t)); slices.Contains(got, wwidB) || !slices.Contains(got, wwidA) {
		t.Fatalf("after the rollback the wwids file lists %v", got)
	}
	th.hooks.afterReconfigure = nil
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: multipathdtest.EmptyMapsJSON})

	// 3. Killed mid-apply (after the write, before reconfigure), a writer adds an entry, the
	// restarted agent recovers.
	th.hooks.beforeReconfigure = func() {
		addOne("3600recover")
		runtime.Goexit()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = th.Apply(ctx, render(t, wwidB))
	}()
	<-done
	th.hooks.beforeReconfigure = nil
	if got := ParseWWIDs(th.readBytes(t)); !slices.Contains(got, wwidB) || slices.Contains(got, wwidA) {
		t.Fatalf("the killed apply had not written (wwids %v); the test proves nothing", got)
	}
	restarted := &Host{Root: th.Root, Client: &multipathd.SocketClient{Address: th.daemon.Address()}}
	if recovered, err := restarted.Recover(ctx); err != nil || !recovered {
		t.Fatalf("Recover = %v, %v", recovered, err)
	}
	if got := ParseWWIDs(th.readBytes(t)); slices.Contains(got, wwidB) || !slices.Contains(got, wwidA) {
		t.Fatalf("after recovery the wwids file lists %v", got)
	}

	// 4. Teardown.
	mustApply(t, th, emptyConfig(t))
	close(stop)
	wg.Wait()

	got := ParseWWIDs(th.readBytes(t))
	for _, wwid := range append([]string{bootWWID}, added...) {
		if !slices.Contains(got, wwid) {
			t.Errorf("%s was lost", wwid)
		}
	}
	if slices.Contains(got, wwidA) || slices.Contains(got, wwidB) {
		t.Errorf("the teardown left the agent's entries: %v", got)
	}
	if len(added) < 3 {
		t.Errorf("the writer added only %v", added)
	}
	t.Logf("the writer added %d entries during the run", len(added))
}

func (th *testHost) readBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(th.path(WWIDsPath))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
