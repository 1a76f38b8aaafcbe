//go:build e2e

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

package e2e

// What both builds of this package share: `make e2e` (TestRealNode, the agent binary on the
// guest) and `make e2e-cluster` (TestCluster, config/default through a real kubelet on the same
// guest). Each build has its own TestMain and its own system, with at least the fields vm, c,
// dir and kubeconfig these helpers use.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/internal/wave"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// nodeName is the guest's Node.
const nodeName = "e2e-node"

func readOr(path, def string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	return string(b)
}

// hostReady finds the guest image and the host tools, or says what is missing.
func hostReady() (string, error) {
	var missing []string
	for _, t := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t+" (hack/e2e/deps.sh installs it)")
		}
	}
	image := os.Getenv("KUBE_MULTIPATH_E2E_IMAGE")
	if image == "" {
		image = filepath.Join(testenv.RepoRoot(), "bin", "e2e", "current")
	}
	for _, f := range []string{"vmlinuz", "initrd.cpio.gz", "root.img"} {
		if _, err := os.Stat(filepath.Join(image, f)); err != nil {
			missing = append(missing, fmt.Sprintf("%s in %s (hack/e2e/image.sh builds it)", f, image))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s", errNoTools, strings.Join(missing, ", "))
	}
	return filepath.EvalSymlinks(image)
}

// goBuild builds a static binary, as the agent image ships it.
func goBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// poll calls f until it returns nil or timeout passes, and returns f's last error.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Host paths on the guest (internal/hostfs).
const (
	confDir      = "/etc/multipath/conf.d"
	baselineConf = confDir + "/99-kube-multipath.conf"
	overrideConf = confDir + "/90-kube-multipath-overrides.conf"
	hostConf     = confDir + "/50-host.conf"
	wwidsFile    = "/etc/multipath/wwids"
	ownedFile    = "/etc/multipath/kube-multipath/owned-wwids"
	appliedFile  = "/etc/multipath/kube-multipath/applied"
	pendingFile  = "/etc/multipath/kube-multipath/pending"
	backupFile   = "/etc/multipath/kube-multipath/pending-backup"
	// foreignWWID is in the image's /etc/multipath/wwids before the operator arrives
	// (hack/e2e/guest/wwids), as boot from SAN or `multipath -a` by hand leaves one.
	foreignWWID = "36001405e2e0000000000000000b007"
	// bindingsFile is the host's user_friendly_names bindings: mpatha is hostLUN's.
	bindingsFile = "/etc/multipath/bindings"
	// hostMapName is hostLUN's map, named by the host (user_friendly_names yes, bindings).
	hostMapName = "mpatha"
	// hostMount is where the node's own file system on mpatha is mounted for the whole run.
	hostMount = "/mnt/hostdata"
	// dataWriter and hostWriter are the writers' files' prefixes (writerScript).
	dataWriter = "/run/writer"
	hostWriter = "/run/hostwriter"
)

// writerScript writes files of random data in dir and records their checksums in <run>.sums,
// until <run>.stop appears; each failed write is a line in <run>.err. run is a path prefix
// under /run: one writer runs on the managed e2e-data, another on the host's own mpatha.
func writerScript(dir, run string) string {
	return strings.NewReplacer("DIR", dir, "RUN", run).Replace(`
cd DIR || exit 1
i=0
while [ ! -e RUN.stop ]; do
  if [ $i -lt 400 ]; then
    if dd if=/dev/urandom of=f$i bs=64k count=4 conv=fsync status=none 2>>RUN.err; then
      sha256sum f$i >> RUN.sums
    else
      echo "write f$i failed" >> RUN.err
    fi
    i=$((i+1))
  fi
  sleep 0.05
done
`)
}

// startWriter starts writerScript in the background of the guest.
func startWriter(t *testing.T, ctx context.Context, dir, run string) {
	t.Helper()
	guest(t, ctx, "rm -f "+run+".*; setsid bash -c '"+strings.ReplaceAll(writerScript(dir, run), "'", `'\''`)+"' > /dev/null 2>&1 < /dev/null & echo $! > "+run+".pid")
}

// stopWriter stops a writer and reads back every file it wrote, returning how many.
func stopWriter(t *testing.T, ctx context.Context, dir, run string) string {
	t.Helper()
	guest(t, ctx, "touch "+run+".stop; while kill -0 $(cat "+run+".pid) 2>/dev/null; do sleep 0.1; done")
	checkWriterAt(t, ctx, run)
	return strings.TrimSpace(guest(t, ctx, "sync; echo 3 > /proc/sys/vm/drop_caches; cd "+dir+" && sha256sum -c --quiet "+run+".sums && wc -l < "+run+".sums"))
}

func guest(t *testing.T, ctx context.Context, script string) string {
	t.Helper()
	out, err := sys.vm.run(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitGuest(t *testing.T, ctx context.Context, timeout time.Duration, what, script string) {
	t.Helper()
	err := poll(ctx, timeout, func() error {
		_, err := sys.vm.runTimeout(ctx, 20*time.Second, script)
		return err
	})
	if err != nil {
		t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}

func guestMaps(t *testing.T, ctx context.Context) []multipathd.Map {
	t.Helper()
	maps, err := multipathd.ParseMapsJSON([]byte(guest(t, ctx, "multipathd show maps json")))
	if err != nil {
		t.Fatal(err)
	}
	return maps
}

func findMap(maps []multipathd.Map, wwid string) *multipathd.Map {
	for i := range maps {
		if maps[i].UUID == wwid {
			return &maps[i]
		}
	}
	return nil
}

func mapNames(maps []multipathd.Map) []string {
	var out []string
	for _, m := range maps {
		out = append(out, m.Name)
	}
	return out
}

func mapDevices(m *multipathd.Map) []string {
	var out []string
	for _, g := range m.PathGroups {
		for _, p := range g.Paths {
			out = append(out, p.Dev)
		}
	}
	slices.Sort(out)
	return out
}

// pathDevices are the SCSI disks the kernel shows for a LUN (by its wwn), sorted.
func pathDevices(t *testing.T, ctx context.Context, l lun) []string {
	t.Helper()
	out := guest(t, ctx, `for d in /sys/block/sd*; do echo "${d##*/} $(cat $d/device/wwid)"; done`)
	var devs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "naa."+strings.TrimPrefix(l.wwn, "0x") {
			devs = append(devs, f[0])
		}
	}
	slices.Sort(devs)
	return devs
}

// checkWriter fails when the writer on e2e-data logged an IO error or the kernel did.
func checkWriter(t *testing.T, ctx context.Context) {
	t.Helper()
	checkWriterAt(t, ctx, dataWriter)
}

// checkWriterAt fails when the writer of run logged an IO error or the kernel did.
func checkWriterAt(t *testing.T, ctx context.Context, run string) {
	t.Helper()
	out := guest(t, ctx, "cat "+run+".err 2>/dev/null; dmesg | grep -Ei 'I/O error|EXT4-fs error|Buffer I/O' || true")
	if strings.TrimSpace(out) != "" {
		t.Errorf("IO errors on the node (%s):\n%s", run, out)
	}
	n := guest(t, ctx, "wc -l < "+run+".sums")
	if c, _ := strconv.Atoi(strings.TrimSpace(n)); c == 0 {
		t.Errorf("the writer %s has written nothing", run)
	}
}

// nodeState reads the node's MultipathNodeState with spec.desiredConfig the config the node is
// told to run: the rollout wave's while the wave names it (its spec records it after the
// node's confirmation).
func nodeState(t *testing.T, ctx context.Context) *mpv1alpha1.MultipathNodeState {
	t.Helper()
	st, err := toldState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func toldState(ctx context.Context) (*mpv1alpha1.MultipathNodeState, error) {
	st := &mpv1alpha1.MultipathNodeState{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: nodeName}, st); err != nil {
		return nil, err
	}
	w, err := sim.ReadWave(ctx, sys.c, sim.Namespace)
	if err != nil {
		return nil, err
	}
	st.Spec.DesiredConfig = wave.Effective(w, st)
	return st, nil
}

func waitNode(t *testing.T, ctx context.Context, timeout time.Duration, what string, f func(*mpv1alpha1.MultipathNodeState) error) *mpv1alpha1.MultipathNodeState {
	t.Helper()
	var st *mpv1alpha1.MultipathNodeState
	err := poll(ctx, timeout, func() error {
		var err error
		if st, err = toldState(ctx); err != nil {
			return err
		}
		return f(st)
	})
	if err != nil {
		t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
	return st
}

func reportedMap(st *mpv1alpha1.MultipathNodeState, wwid string) *mpv1alpha1.MapStatus {
	for i := range st.Status.Maps {
		if st.Status.Maps[i].WWID == wwid {
			return &st.Status.Maps[i]
		}
	}
	return nil
}

// desiredHash is the hash the node is told to run now.
func desiredHash(t *testing.T, ctx context.Context) string {
	t.Helper()
	if d := nodeState(t, ctx).Spec.DesiredConfig; d != nil {
		return d.Hash
	}
	return ""
}

// waitApplied waits until the node got a desired config other than old and runs it ("" for
// old: whatever it is told).
func waitApplied(t *testing.T, ctx context.Context, old string) {
	t.Helper()
	waitNode(t, ctx, 2*time.Minute, "the node to run its desired config", func(st *mpv1alpha1.MultipathNodeState) error {
		d, a := st.Spec.DesiredConfig, st.Status.AppliedConfig
		switch {
		case d == nil || d.Hash == old:
			return fmt.Errorf("no new desired config yet")
		case a == nil || a.Hash != d.Hash:
			return fmt.Errorf("applied %v, desired %v: %+v", a, d, st.Status.Conditions)
		case !apimeta.IsStatusConditionTrue(st.Status.Conditions, mpv1alpha1.ReadyCondition):
			return fmt.Errorf("not Ready: %+v", st.Status.Conditions)
		}
		return nil
	})
}

func waitWWID(t *testing.T, ctx context.Context, name string, timeout time.Duration, what string, f func(*mpv1alpha1.MultipathWWID) error) {
	t.Helper()
	w := &mpv1alpha1.MultipathWWID{}
	err := poll(ctx, timeout, func() error {
		if err := sys.c.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
			return err
		}
		return f(w)
	})
	if err != nil {
		t.Fatalf("waiting %s for %s %s: %v", timeout, name, what, err)
	}
}

func waitWWIDHealth(t *testing.T, ctx context.Context, name string, state mpv1alpha1.MapState, timeout time.Duration) {
	t.Helper()
	waitWWID(t, ctx, name, timeout, string(state), func(w *mpv1alpha1.MultipathWWID) error {
		if w.Status.Health.State != state {
			return fmt.Errorf("health %+v", w.Status.Health)
		}
		return nil
	})
}

func updateWWID(ctx context.Context, name string, f func(*mpv1alpha1.MultipathWWID)) error {
	w := &mpv1alpha1.MultipathWWID{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
		return err
	}
	before := w.DeepCopy()
	f(w)
	return sys.c.Patch(ctx, w, client.MergeFrom(before))
}

func updateConfig(ctx context.Context, f func(*mpv1alpha1.MultipathConfig)) error {
	c := &mpv1alpha1.MultipathConfig{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, c); err != nil {
		return err
	}
	before := c.DeepCopy()
	f(c)
	return sys.c.Patch(ctx, c, client.MergeFrom(before))
}

func tail(path string, n int) string {
	lines := strings.Split(strings.TrimRight(readOr(path, ""), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkAppliedFiles compares the owned drop-ins on the node with the rendered ConfigMap the
// node state says is applied.
func checkAppliedFiles(t *testing.T, ctx context.Context) {
	t.Helper()
	st := nodeState(t, ctx)
	if st.Status.AppliedConfig == nil {
		t.Fatal("no applied config")
	}
	cm := &corev1.ConfigMap{}
	if err := sys.c.Get(ctx, client.ObjectKey{Namespace: sim.Namespace, Name: st.Status.AppliedConfig.Name}, cm); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{filepath.Base(baselineConf), filepath.Base(overrideConf)} {
		want, ok := cm.Data[name]
		got, err := sys.vm.run(ctx, "cat "+confDir+"/"+name)
		switch {
		case !ok && err == nil:
			t.Errorf("%s is on the node but not in %s", name, cm.Name)
		case ok && err != nil:
			t.Errorf("%s is in %s but not on the node: %v", name, cm.Name, err)
		case ok && got != want:
			t.Errorf("%s on the node differs from %s:\n%s", name, cm.Name, got)
		}
	}
}

// prepare is what both harnesses' TestMain do first. When the host cannot run the guest (err)
// the run is skipped, or fails under CI=true; otherwise a temp dir named with prefix is made and
// every log of the test process goes to its test.log. It returns the dir and a closer, or ok
// false with the exit code to return.
func prepare(name, prefix string, err error) (dir string, closeLog func(), code int, ok bool) {
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, name+": FAIL:", err)
			return "", nil, 1, false
		}
		fmt.Fprintln(os.Stderr, name+": SKIP (set CI=true to fail instead):", err)
		return "", nil, 0, false
	}
	dir, err = sim.TempDir(prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return "", nil, 1, false
	}
	logFile, err := os.Create(filepath.Join(dir, "test.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return "", nil, 1, false
	}
	logger := zap.New(zap.WriteTo(logFile), zap.UseDevMode(false))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	return dir, func() { _ = logFile.Close() }, 0, true
}

// report prints a run's figures and its time, then removes the run's dir; a failed run keeps
// its logs (those listed in kept) and KUBE_MULTIPATH_E2E_KEEP=true all of it.
func report(name, heading string, figures []string, begin time.Time, code int, dir, kept string) {
	fmt.Println(heading)
	for _, f := range figures {
		fmt.Println("  " + f)
	}
	fmt.Printf("%s: whole run %.1fs\n", name, time.Since(begin).Seconds())
	switch {
	case os.Getenv("KUBE_MULTIPATH_E2E_KEEP") == "true":
		fmt.Fprintf(os.Stderr, "%s: run kept in %s (%s)\n", name, dir, kept)
	case code != 0:
		freed := sim.KeepLogs(dir)
		fmt.Fprintf(os.Stderr, "%s: logs kept in %s (%s; %d MiB of images and binaries removed)\n", name, dir, kept, freed>>20)
	default:
		_ = os.RemoveAll(dir)
	}
}
