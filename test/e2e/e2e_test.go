//go:build e2e && !cluster

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

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/plugin"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// TestRealNode runs the scenarios in order on one guest: each builds on the state the one
// before left, as on a node that lives through them.
func TestRealNode(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name string
		f    func(*testing.T, context.Context)
	}{
		{"1-host-map-mpatha-mounted-before-the-operator", testHostMap},
		{"2-maps-with-aliases", testMaps},
		{"3-path-failure", testPathFailure},
		{"4-mounted-map-under-io", testMountedMap},
		{"5-candidate-dropping-a-live-map-rolls-back", testRollback},
		{"6-agent-killed-mid-apply", testAgentKilled},
		{"7-host-disks-and-wwids-untouched-drift-reasserted", testHostOwned},
		{"8-host-blacklist-of-a-managed-wwid-reported", testHostBlacklist},
		{"9-applied-means-renamed-and-mpatha-never-renamed", testNoRename},
		{"9b-new-lun-for-the-hosts-mounted-mpatha-held-not-renamed", testAdoptionHeld},
		{"10-mounted-map-without-pv-held-on-deletion", testOpenMapHeld},
		{"11-config-deletion-held-while-mounted-then-everything-gone", testDeleteAll},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			began := time.Now()
			s.f(t, ctx)
			// Whatever the scenario applied, the host's own mpatha kept its name, its device
			// and its mount, and no managed map took a user_friendly_names name.
			if !t.Failed() {
				checkHostMap(t, ctx)
			}
			sys.figure("scenario %s: %.1fs", s.name, time.Since(began).Seconds())
		})
		if !ok {
			t.Logf("guest agent log tail:\n%s", tail(filepath.Join(sys.dir, "share", "agent.log"), 30))
			t.FailNow() // the next scenarios start from this one's end state
		}
	}
}

// testMaps: two MultipathWWIDs with aliases become real maps named after them; the node's
// state reports them with the real paths, and each LUN is optimal.
func testMaps(t *testing.T, ctx context.Context) {
	if err := sim.CreateNode(ctx, sys.c, nodeName, nil); err != nil {
		t.Fatal(err)
	}
	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{sim.SANLabel: "true"}},
			Defaults: mpv1alpha1.MultipathDefaults{
				PollingInterval:    ptr.To[int32](2),
				MaxPollingInterval: ptr.To[int32](4),
			},
		},
	}
	if err := sys.c.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	agentStart := time.Now()
	startAgent(t, ctx)
	waitNode(t, ctx, 2*time.Minute, "the agent's first report", func(st *mpv1alpha1.MultipathNodeState) error {
		if st.Status.MultipathToolsVersion == "" {
			return fmt.Errorf("no report yet: %+v", st.Status.Conditions)
		}
		return nil
	})
	sys.figure("agent start -> first node report through the forward: %.1fs", time.Since(agentStart).Seconds())

	created := time.Now()
	for _, w := range []struct {
		name, alias string
		l           lun
	}{{"e2e-lun1", "e2e-data", lun1}, {"e2e-lun2", "e2e-logs", lun2}} {
		obj := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: w.name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: w.l.wwid(), Alias: w.alias}}
		if err := sys.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	waitGuest(t, ctx, 2*time.Minute, "both maps under their aliases", "test -b /dev/mapper/e2e-data && test -b /dev/mapper/e2e-logs")
	sys.figure("2 MultipathWWIDs created -> /dev/mapper/<alias> on the node: %.1fs", time.Since(created).Seconds())

	maps := guestMaps(t, ctx)
	for alias, l := range map[string]lun{"e2e-data": lun1, "e2e-logs": lun2} {
		m := findMap(maps, l.wwid())
		if m == nil || m.Name != alias {
			t.Fatalf("multipathd has no map %s for %s: %+v", alias, l.wwid(), maps)
		}
		if got, want := mapDevices(m), pathDevices(t, ctx, l); !slices.Equal(got, want) {
			t.Errorf("map %s has paths %v, the kernel shows %v", alias, got, want)
		}
	}
	waitWWIDHealth(t, ctx, "e2e-lun1", mpv1alpha1.MapOptimal, time.Minute)
	waitWWIDHealth(t, ctx, "e2e-lun2", mpv1alpha1.MapOptimal, time.Minute)
	waitNode(t, ctx, time.Minute, "both maps reported optimal, their paths counted and not listed", func(st *mpv1alpha1.MultipathNodeState) error {
		for alias, l := range map[string]lun{"e2e-data": lun1, "e2e-logs": lun2} {
			ms := reportedMap(st, l.wwid())
			if ms == nil || ms.Name != alias || ms.State != mpv1alpha1.MapOptimal || ms.ActivePaths != 2 || ms.TotalPaths != 2 {
				return fmt.Errorf("map %s reported as %+v", alias, ms)
			}
			if len(ms.Paths) != 0 || len(ms.PathGroups) != 0 {
				return fmt.Errorf("optimal map %s reported with its paths %+v and groups %+v", alias, ms.Paths, ms.PathGroups)
			}
		}
		return nil
	})
	// Discovery (kubectl multipath discover): the host's own LUN, assembled by the host as
	// mpatha, is reported as an unmanaged device with both paths, from multipathd's own path
	// list; the managed LUNs are not.
	st := waitNode(t, ctx, time.Minute, "the host's LUN reported as unmanaged", func(st *mpv1alpha1.MultipathNodeState) error {
		var host *mpv1alpha1.UnmanagedDevice
		for i, d := range st.Status.UnmanagedDevices {
			switch d.WWID {
			case hostLUN.wwid():
				host = &st.Status.UnmanagedDevices[i]
			case lun1.wwid(), lun2.wwid():
				return fmt.Errorf("managed LUN %s reported as unmanaged: %+v", d.WWID, d)
			}
		}
		if host == nil || host.InMap != hostMapName || host.PathCount != 2 {
			return fmt.Errorf("unmanaged devices %+v", st.Status.UnmanagedDevices)
		}
		return nil
	})
	t.Logf("unmanaged devices: %+v", st.Status.UnmanagedDevices)
	checkAppliedFiles(t, ctx)
	out := guest(t, ctx, "cat "+wwidsFile+"; echo ---; cat "+ownedFile)
	for _, w := range []string{lun1.wwid(), lun2.wwid(), foreignWWID} {
		if !strings.Contains(out, "/"+w+"/") {
			t.Errorf("%s lacks %s:\n%s", wwidsFile, w, out)
		}
	}
	matrix := statusMatrix(t, ctx)
	if !strings.Contains(matrix, "optimal") {
		t.Errorf("kubectl multipath status shows no optimal LUN:\n%s", matrix)
	}
	t.Logf("kubectl multipath status:\n%s", matrix)
}

// testPathFailure offlines one path of a LUN and times how long the LUN's status takes to show
// it, and to show it optimal again once the path is back.
func testPathFailure(t *testing.T, ctx context.Context) {
	// Under IO the kernel fails the path at the first rejected request; on an idle map only
	// multipathd's checker notices, at its next tick (polling_interval 2).
	t.Run("under-io", func(t *testing.T) {
		guest(t, ctx, "rm -f /run/reader.stop; setsid bash -c 'while [ ! -e /run/reader.stop ]; do dd if=/dev/mapper/e2e-data of=/dev/null bs=4k count=16 iflag=direct status=none; sleep 0.05; done' >/dev/null 2>&1 </dev/null &")
		defer guest(t, ctx, "touch /run/reader.stop")
		failPath(t, ctx, "under IO")
	})
	t.Run("idle", func(t *testing.T) {
		guest(t, ctx, "touch /run/reader.stop; sleep 0.3")
		failPath(t, ctx, "idle map")
	})
}

// failPath offlines the path of lun1 that carries the IO (the one in the active path group:
// the other one only multipathd's checker would notice) and brings it back, timing the LUN's
// status each way.
func failPath(t *testing.T, ctx context.Context, how string) {
	m := findMap(guestMaps(t, ctx), lun1.wwid())
	if m == nil {
		t.Fatal("no map for lun1")
	}
	var dev string
	for _, g := range m.PathGroups {
		if g.DMState == "active" && len(g.Paths) > 0 {
			dev = g.Paths[0].Dev
		}
	}
	if dev == "" {
		t.Fatalf("lun1 has no active path group: %+v", m.PathGroups)
	}
	failed := time.Now()
	guest(t, ctx, fmt.Sprintf("echo offline > /sys/block/%s/device/state", dev))
	waitWWIDHealth(t, ctx, "e2e-lun1", mpv1alpha1.MapDegraded, time.Minute)
	d := time.Since(failed)
	sys.figure("path offline (%s) -> MultipathWWID degraded: %.2fs (goal <= 2s); of which kernel failed the path -> status: %s", how, d.Seconds(), sinceKernelLog(t, ctx, "Failing path"))
	m = findMap(guestMaps(t, ctx), lun1.wwid())
	if m == nil || m.UsablePaths != 1 {
		t.Errorf("multipathd should show e2e-data with one usable path: %+v", m)
	}
	var reported *mpv1alpha1.MapStatus
	waitNode(t, ctx, 30*time.Second, "the failed path reported, the map's real paths and groups listed", func(st *mpv1alpha1.MultipathNodeState) error {
		ms := reportedMap(st, lun1.wwid())
		if ms == nil || ms.State != mpv1alpha1.MapDegraded || ms.ActivePaths != 1 || ms.TotalPaths != 2 {
			return fmt.Errorf("map reported as %+v", ms)
		}
		// A map that is not optimal lists its paths, the failed one first, as the kernel
		// has them, and its path groups as the real multipathd reports them: every path in a
		// listed group, one group active.
		var devs []string
		for _, p := range ms.Paths {
			devs = append(devs, p.Device)
		}
		if len(ms.Paths) == 0 || ms.Paths[0].Device != dev || ms.Paths[0].DMState != "failed" {
			return fmt.Errorf("map reported with paths %+v, want %s failed first", ms.Paths, dev)
		}
		slices.Sort(devs)
		if want := pathDevices(t, ctx, lun1); !slices.Equal(devs, want) {
			return fmt.Errorf("map reported with paths %v, the kernel shows %v", devs, want)
		}
		groups := map[int32]bool{}
		active := 0
		for _, g := range ms.PathGroups {
			groups[g.Group] = true
			if g.State == "active" {
				active++
			}
		}
		if len(ms.PathGroups) == 0 || active != 1 {
			return fmt.Errorf("map reported with path groups %+v", ms.PathGroups)
		}
		for _, p := range ms.Paths {
			if !groups[p.Group] {
				return fmt.Errorf("path %s in group %d, not among %+v", p.Device, p.Group, ms.PathGroups)
			}
		}
		reported = ms
		return nil
	})
	t.Logf("e2e-data with a path failed (%s): paths %+v, groups %+v", how, reported.Paths, reported.PathGroups)
	restored := time.Now()
	guest(t, ctx, fmt.Sprintf("echo running > /sys/block/%s/device/state", dev))
	waitWWIDHealth(t, ctx, "e2e-lun1", mpv1alpha1.MapOptimal, time.Minute)
	sys.figure("path running again (%s) -> MultipathWWID optimal: %.2fs", how, time.Since(restored).Seconds())
	if d > 2*time.Second {
		t.Logf("path failure -> status took %s, above the 2s goal", d)
	}
}

// testMountedMap mounts ext4 on a map with a writer running, has a PersistentVolume use it,
// and checks that its alias change is refused while unrelated changes are applied under IO.
func testMountedMap(t *testing.T, ctx context.Context) {
	guest(t, ctx, "mkfs.ext4 -q -F /dev/mapper/e2e-data && mount /dev/mapper/e2e-data /mnt/data")
	startWriter(t, ctx, "/mnt/data", dataWriter)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("256Mi")},
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: "local",
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/e2e-data"},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}},
			}}}},
		},
	}
	if err := sys.c.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	waitWWID(t, ctx, "e2e-lun1", time.Minute, "in use by the PersistentVolume", func(w *mpv1alpha1.MultipathWWID) error {
		if !apimeta.IsStatusConditionTrue(w.Status.Conditions, mpv1alpha1.InUseCondition) {
			return fmt.Errorf("InUse is not True: %+v", w.Status.Conditions)
		}
		return nil
	})

	err := updateWWID(ctx, "e2e-lun1", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "e2e-data-renamed" })
	if err == nil {
		t.Fatal("the alias change of a LUN a PersistentVolume uses was accepted")
	}
	t.Logf("alias change refused: %v", err)

	// Unrelated: the other LUN's alias, and a knob of the used LUN (its table is reloaded under IO).
	before := desiredHash(t, ctx)
	changed := time.Now()
	if err := updateWWID(ctx, "e2e-lun2", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "e2e-logs2" }); err != nil {
		t.Fatal(err)
	}
	if err := updateWWID(ctx, "e2e-lun1", func(w *mpv1alpha1.MultipathWWID) {
		w.Spec.NoPathRetry = ptr.To(intstr.FromInt32(12))
	}); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, ctx, 2*time.Minute, "e2e-logs renamed to e2e-logs2", "test -b /dev/mapper/e2e-logs2 && ! test -e /dev/mapper/e2e-logs")
	sys.figure("alias change applied -> map renamed on the node: %.1fs", time.Since(changed).Seconds())
	waitApplied(t, ctx, before)
	checkAppliedFiles(t, ctx)
	out := guest(t, ctx, "dmsetup table e2e-data")
	if !strings.Contains(out, "queue_if_no_path") {
		t.Errorf("e2e-data's table should queue (no_path_retry 12) after the apply: %s", out)
	}
	time.Sleep(2 * time.Second) // more writes after the reload
	checkWriter(t, ctx)
}

// testRollback hands the node a config that blacklists the paths of a live (unmounted) map:
// multipathd drops the map on reconfigure, the post-check sees it, and the agent restores the
// files, reconfigures again and reports the failure.
func testRollback(t *testing.T, ctx context.Context) {
	sumsBefore := fileSums(t, ctx)
	appliedBefore := nodeState(t, ctx).Status.AppliedConfig
	devs := pathDevices(t, ctx, lun2)
	overrides := fmt.Sprintf("blacklist {\n  devnode \"^(%s)$\"\n}\n", strings.Join(devs, "|"))
	if err := updateConfig(ctx, func(c *mpv1alpha1.MultipathConfig) { c.Spec.Overrides = overrides }); err != nil {
		t.Fatal(err)
	}
	st := waitNode(t, ctx, 2*time.Minute, "the apply failed and rolled back", func(st *mpv1alpha1.MultipathNodeState) error {
		c := apimeta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.DegradedCondition)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("not Degraded: %+v", st.Status.Conditions)
		}
		return nil
	})
	t.Logf("node state: %s", apimeta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.DegradedCondition).Message)
	if a := st.Status.AppliedConfig; a == nil || appliedBefore == nil || a.Hash != appliedBefore.Hash {
		t.Errorf("applied config moved from %v to %v", appliedBefore, a)
	}
	waitGuest(t, ctx, time.Minute, "e2e-logs2 back after the rollback", "test -b /dev/mapper/e2e-logs2")
	if after := fileSums(t, ctx); after != sumsBefore {
		t.Errorf("files not restored byte for byte:\nbefore:\n%s\nafter:\n%s", sumsBefore, after)
	}
	if out := guest(t, ctx, "ls "+pendingFile+" "+backupFile+" 2>/dev/null || true"); strings.TrimSpace(out) != "" {
		t.Errorf("the pending marker or its backup is left after a rollback: %s", out)
	}
	// The config is held, not retried: a retry would drop the map again.
	time.Sleep(5 * time.Second)
	if after := fileSums(t, ctx); after != sumsBefore {
		t.Errorf("the agent tried the config that lost a map again:\n%s", after)
	}
	if m := findMap(guestMaps(t, ctx), lun2.wwid()); m == nil {
		t.Errorf("e2e-logs2 is gone again: the agent retried the config that dropped it")
	}
	// Back to the good config: the node runs it again.
	if err := updateConfig(ctx, func(c *mpv1alpha1.MultipathConfig) { c.Spec.Overrides = "" }); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, ctx, "")
	checkWriter(t, ctx)
}

// testAgentKilled SIGKILLs the agent as soon as it has written its pending marker, restarts it,
// and checks that it finishes the job: the interrupted apply is rolled back, the desired
// config applied, no map lost, the writer unharmed.
func testAgentKilled(t *testing.T, ctx context.Context) {
	// The killer forks nothing between seeing the marker and the kill (a builtin read as its
	// sleep, a builtin kill of a pid read beforehand): under TCG a fork takes tens of ms, and
	// the marker lives only from the first write to the post-check's end. An apply that still
	// finishes first is retried with another rename, at most three times.
	before := desiredHash(t, ctx)
	alias := ""
	for try := 1; ; try++ {
		guest(t, ctx, `rm -f /run/killed /run/killer.fifo; mkfifo /run/killer.fifo
setsid bash -c 'pid=$(cat /run/agent.pid); exec 9<>/run/killer.fifo; while [ ! -e `+pendingFile+` ]; do read -t 0.002 -u 9 || :; done; kill -9 $pid; echo killed > /run/killed' >/dev/null 2>&1 </dev/null &`)
		alias = fmt.Sprintf("e2e-logs3%c", 'a'+try-1)
		if try == 1 {
			alias = "e2e-logs3"
		}
		if err := updateWWID(ctx, "e2e-lun2", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = alias }); err != nil {
			t.Fatal(err)
		}
		waitGuest(t, ctx, 2*time.Minute, "the agent killed mid-apply", "test -e /run/killed")
		out := guest(t, ctx, "test -e "+pendingFile+" && echo pending; ps -o stat= -p $(cat /run/agent.pid) || echo gone")
		t.Logf("try %d, after SIGKILL: %s", try, strings.Join(strings.Fields(out), " "))
		if strings.Contains(out, "pending") {
			break
		}
		if try == 3 {
			t.Fatalf("the apply finished before the SIGKILL %d times: no pending marker left", try)
		}
		startAgent(t, ctx)
		waitApplied(t, ctx, "")
		before = desiredHash(t, ctx)
	}
	startAgent(t, ctx)
	waitApplied(t, ctx, before)
	waitGuest(t, ctx, time.Minute, "the maps under the new names", "test -b /dev/mapper/"+alias+" && test -b /dev/mapper/e2e-data && ! test -e "+pendingFile+" && ! test -e "+backupFile)
	if log := readOr(filepath.Join(sys.dir, "share", "agent.log"), ""); !strings.Contains(log, "Rolling back an interrupted apply") {
		t.Errorf("the restarted agent did not report rolling back the interrupted apply")
	}
	checkAppliedFiles(t, ctx)
	checkWriter(t, ctx)
	rss := guest(t, ctx, `grep -E "VmRSS|VmHWM" /proc/$(cat /run/agent.pid)/status | tr -s ' \t' ' '`)
	sys.figure("agent memory on the node after the scenarios (restarted agent): %s", strings.Join(strings.Fields(rss), " "))
}

// testHostOwned checks what the node had of its own: the single-path disk is no map and no
// holder's path, the foreign WWID and drop-in and /etc/multipath.conf are as the image left them.
func testHostOwned(t *testing.T, ctx context.Context) {
	checkHostOwned(t, ctx)
	// And the agent's own drop-in edited by hand on the node is noticed (inotify on the real
	// file system) and re-asserted.
	guest(t, ctx, "echo '# edited by hand' >> "+baselineConf)
	waitGuest(t, ctx, time.Minute, "the hand edit re-asserted", "! grep -q 'edited by hand' "+baselineConf)
	checkAppliedFiles(t, ctx)
}

func checkHostOwned(t *testing.T, ctx context.Context) {
	t.Helper()
	boot := pathDevices(t, ctx, bootDisk)
	if len(boot) != 1 {
		t.Fatalf("the boot disk should have one path, has %v", boot)
	}
	if out := guest(t, ctx, "ls /sys/block/"+boot[0]+"/holders"); strings.TrimSpace(out) != "" {
		t.Errorf("the single-path disk %s is held by %s", boot[0], out)
	}
	if m := findMap(guestMaps(t, ctx), bootDisk.wwid()); m != nil {
		t.Errorf("the single-path disk is multipathed: %+v", m)
	}
	out := guest(t, ctx, "cat "+wwidsFile)
	for _, w := range []string{foreignWWID, hostLUN.wwid()} {
		if !strings.Contains(out, "/"+w+"/") {
			t.Errorf("the host's own WWID %s is gone from %s:\n%s", w, wwidsFile, out)
		}
	}
	if out := guest(t, ctx, "cat "+ownedFile+" 2>/dev/null || true"); strings.Contains(out, foreignWWID) || strings.Contains(out, hostLUN.wwid()) {
		t.Errorf("a host's own WWID is recorded as owned: %s", out)
	}
	// multipathd may append bindings of its own; the host's line stays.
	if out := guest(t, ctx, "cat "+bindingsFile); !slices.Contains(strings.Split(out, "\n"), hostMapName+" "+hostLUN.wwid()) {
		t.Errorf("%s lost the host's binding of %s:\n%s", bindingsFile, hostMapName, out)
	}
	for guestPath, repoPath := range map[string]string{hostConf: "50-host.conf", "/etc/multipath.conf": "multipath.conf"} {
		want, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "hack", "e2e", "guest", repoPath))
		if err != nil {
			t.Fatal(err)
		}
		if got := guest(t, ctx, "cat "+guestPath); got != string(want) {
			t.Errorf("%s changed:\n%s", guestPath, got)
		}
	}
}

// testDeleteAll: the MultipathConfig is deleted while a managed map is mounted on the node
// and no PersistentVolume names it. The deletion is held (teardown finalizer, TeardownHeld
// naming the node and the mount), the node keeps the map, mounted, and the LUN keeps reporting
// its health; once unmounted the node is torn down, the MultipathConfig goes, and every file
// and WWID the operator added with it. The host's own maps and files are untouched throughout.
func testDeleteAll(t *testing.T, ctx context.Context) {
	n := stopWriter(t, ctx, "/mnt/data", dataWriter)
	sys.figure("writer on the mounted map through scenarios 4-6: %s files of 256 KiB written and read back intact, 0 IO errors", n)
	pv := &corev1.PersistentVolume{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: "e2e-data"}, pv); err == nil {
		_ = sys.c.Delete(ctx, pv)
		if err := sys.c.Get(ctx, client.ObjectKey{Name: "e2e-data"}, pv); err == nil && len(pv.Finalizers) > 0 {
			before := pv.DeepCopy()
			pv.Finalizers = nil
			_ = sys.c.Patch(ctx, pv, client.MergeFrom(before))
		}
		waitGone(t, ctx, time.Minute, pv)
	}
	// Still mounted, no PV: in use from the node alone.
	waitWWID(t, ctx, "e2e-lun1", time.Minute, "in use: open on the node", func(w *mpv1alpha1.MultipathWWID) error {
		if !openOnNode(w, "/mnt/data") || len(w.Status.Consumers) > 0 {
			return fmt.Errorf("openOn %+v, consumers %v", w.Status.OpenOn, w.Status.Consumers)
		}
		return nil
	})

	cfg := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
	deleted := time.Now()
	if err := sys.c.Delete(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	err := poll(ctx, 2*time.Minute, func() error {
		if err := sys.c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(cfg.Status.Conditions, mpv1alpha1.TeardownHeldCondition)
		switch {
		case cfg.DeletionTimestamp == nil || !slices.Contains(cfg.Finalizers, mpv1alpha1.TeardownFinalizer):
			return fmt.Errorf("not held: deletion %v, finalizers %v", cfg.DeletionTimestamp, cfg.Finalizers)
		case c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.InUseLUNsReason:
			return fmt.Errorf("TeardownHeld %+v", c)
		case !strings.Contains(c.Message, nodeName) || !strings.Contains(c.Message, "/mnt/data"):
			return fmt.Errorf("TeardownHeld does not name the node and the mount: %s", c.Message)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the deletion of the MultipathConfig with e2e-data mounted: %v", err)
	}
	c := apimeta.FindStatusCondition(cfg.Status.Conditions, mpv1alpha1.TeardownHeldCondition)
	t.Logf("held: %s", c.Message)
	sys.figure("MultipathConfig deleted with a managed map mounted -> TeardownHeld naming node and mount: %.1fs", time.Since(deleted).Seconds())
	// Held: the map stays rendered, assembled and mounted, and its health is still reported
	// from the node that carries it, not 0/0.
	waitApplied(t, ctx, "")
	guest(t, ctx, fmt.Sprintf("grep -q %s %s && grep -q /%s/ %s && test -b /dev/mapper/e2e-data && mountpoint -q /mnt/data && ls /mnt/data >/dev/null",
		lun1.wwid(), baselineConf, lun1.wwid(), wwidsFile))
	waitWWID(t, ctx, "e2e-lun1", time.Minute, "health still reported from the node", func(w *mpv1alpha1.MultipathWWID) error {
		if h := w.Status.Health; h.Nodes != "1/1" || h.State != mpv1alpha1.MapOptimal {
			return fmt.Errorf("health %+v", h)
		}
		return nil
	})

	// Freed: the node is torn down and the MultipathConfig goes.
	guest(t, ctx, "umount /mnt/data")
	freed := time.Now()
	if err := poll(ctx, 3*time.Minute, func() error {
		err := sys.c.Get(ctx, client.ObjectKeyFromObject(cfg), cfg)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("still there: deletion %v, finalizers %v", cfg.DeletionTimestamp, cfg.Finalizers)
		}
		return err
	}); err != nil {
		// What still holds it: the node's report of the map, and the kernel's view.
		st := nodeState(t, ctx)
		t.Logf("node report of e2e-data: %+v", reportedMap(st, lun1.wwid()))
		t.Logf("MultipathConfig status: %+v", cfg.Status)
		out, _ := sys.vm.run(ctx, "dmsetup info -c -o name,open,major,minor e2e-data; for f in $(grep -l ' /mnt/data ' /proc/[0-9]*/mountinfo | head); do p=${f#/proc/}; p=${p%/mountinfo}; echo \"$p $(tr '\\0' ' ' < /proc/$p/cmdline) mnt:$(readlink /proc/$p/ns/mnt)\"; done; readlink /proc/1/ns/mnt; ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c dm- ; dmesg | tail -5")
		t.Logf("guest: %s", out)
		t.Fatalf("unmounted, but the MultipathConfig did not go in 3m: %v", err)
	}
	waitGuest(t, ctx, 2*time.Minute, "the operator's files and WWIDs gone",
		fmt.Sprintf("! test -e %s && ! test -e %s && ! grep -q %s %s && ! grep -q %s %s && ! test -s %s",
			baselineConf, overrideConf, lun1.wwid(), wwidsFile, lun2.wwid(), wwidsFile, ownedFile))
	sys.figure("unmounted -> MultipathConfig gone and the node torn down: %.1fs", time.Since(freed).Seconds())
	for _, name := range []string{"e2e-lun1", "e2e-lun2"} {
		w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := client.IgnoreNotFound(sys.c.Delete(ctx, w)); err != nil {
			t.Fatalf("deleting %s: %v", name, err)
		}
		waitGone(t, ctx, time.Minute, w)
	}
	checkHostOwned(t, ctx)
	n = stopWriter(t, ctx, hostMount, hostWriter)
	sys.figure("writer on the host's own mpatha through the whole run: %s files of 256 KiB written and read back intact, 0 IO errors", n)
	t.Logf("maps left on the node: %v", mapNames(guestMaps(t, ctx)))
}

// --- the agent -------------------------------------------------------------------------------

// startAgent starts the real agent binary in the guest, as root, against the guest's own root,
// with the DaemonSet's defaults but the node name and host root.
func startAgent(t *testing.T, ctx context.Context) {
	t.Helper()
	guest(t, ctx, `install -m 0755 /mnt/host/agent /usr/local/bin/kube-multipath-agent
echo "==== $(date +%T.%N) starting the agent" >> /mnt/host/agent.log
KUBECONFIG=/mnt/host/kubeconfig setsid /usr/local/bin/kube-multipath-agent --node-name=`+nodeName+` --host-root=/ \
  --namespace=`+sim.Namespace+` >> /mnt/host/agent.log 2>&1 < /dev/null &
echo $! > /run/agent.pid`)
}

// --- assertions from the guest ---------------------------------------------------------------

// fileSums are the checksums of every file the agent may write.
func fileSums(t *testing.T, ctx context.Context) string {
	t.Helper()
	return guest(t, ctx, fmt.Sprintf("for f in %s %s %s %s %s; do if [ -e $f ]; then sha256sum $f; else echo absent $f; fi; done",
		baselineConf, overrideConf, wwidsFile, ownedFile, appliedFile))
}

// --- assertions from the API -----------------------------------------------------------------

// statusMatrix is `kubectl multipath status`: the LUN x node matrix an admin reads.
func statusMatrix(t *testing.T, ctx context.Context) string {
	t.Helper()
	var out, errOut strings.Builder
	cmd := plugin.NewCommand(ctx, plugin.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs([]string{"status", "--kubeconfig", sys.kubeconfig})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("kubectl multipath status: %v: %s", err, errOut.String())
	}
	return out.String()
}

// sinceKernelLog is how long ago, by the guest's clock, the kernel last logged a line holding
// msg: dm-multipath logs "Failing path" when a path fails, whoever noticed it first (the
// kernel on a rejected request, or multipathd's checker). It is the part of a delay the agent
// and the manager own.
func sinceKernelLog(t *testing.T, ctx context.Context, msg string) string {
	t.Helper()
	out := guest(t, ctx, fmt.Sprintf("cut -d' ' -f1 /proc/uptime; dmesg | grep -F %q | tail -1 | sed 's/^\\[ *\\([0-9.]*\\)\\].*/\\1/'", msg))
	f := strings.Fields(out)
	if len(f) != 2 {
		return "?"
	}
	now, err1 := strconv.ParseFloat(f[0], 64)
	at, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return "?"
	}
	return fmt.Sprintf("%.2fs", now-at)
}
