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

// What the operator does not own (issue 16): the host's own mpatha, named by the host's
// user_friendly_names yes and bindings, mounted for the whole run, never renamed by an apply;
// the host's own configuration contradicting the desired state, reported; managed maps in use
// from the node itself, with no PersistentVolume, held.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// hostBlacklistConf is a drop-in of the admin's own that blacklists a managed WWID; its wwid
// line is line hostBlacklistLine.
const (
	hostBlacklistConf = confDir + "/40-host-blacklist.conf"
	hostBlacklistLine = 3
)

// mpathName is what user_friendly_names hands out: a managed map never carries such a name.
var mpathName = regexp.MustCompile(`^mpath[a-z]+$`)

// hostDev is mpatha's major:minor when the run began: a rename or a re-creation changes it.
var hostDev string

// testHostMap: before the operator arrives, the host has assembled its own LUN as mpatha (its
// bindings, user_friendly_names yes) and mounts a file system on it, with a writer running for
// the whole run.
func testHostMap(t *testing.T, ctx context.Context) {
	waitGuest(t, ctx, 2*time.Minute, "the host's mpatha assembled at boot", "test -b /dev/mapper/"+hostMapName)
	m := findMap(guestMaps(t, ctx), hostLUN.wwid())
	if m == nil || m.Name != hostMapName {
		t.Fatalf("multipathd has no map %s for %s: %+v", hostMapName, hostLUN.wwid(), m)
	}
	if got, want := mapDevices(m), pathDevices(t, ctx, hostLUN); len(want) != 2 || !slices.Equal(got, want) {
		t.Errorf("%s has paths %v, the kernel shows %v", hostMapName, got, want)
	}
	for _, l := range []lun{lun1, lun2, bootDisk} {
		if m := findMap(guestMaps(t, ctx), l.wwid()); m != nil {
			t.Errorf("%s is a map before the operator runs: %+v", l.name, m)
		}
	}
	t.Logf("the host's naming defaults: %s", strings.Join(strings.Fields(guest(t, ctx,
		`multipath -t 2>/dev/null | sed -n '/^defaults {/,/^}/p' | grep -E '^[[:space:]]*(user_friendly_names|find_multipaths) '`)), " "))
	guest(t, ctx, "mkfs.ext4 -q -F /dev/mapper/"+hostMapName+" && mount /dev/mapper/"+hostMapName+" "+hostMount)
	startWriter(t, ctx, hostMount, hostWriter)
	hostDev = strings.TrimSpace(guest(t, ctx, "findmnt -n -o MAJ:MIN --mountpoint "+hostMount))
	if hostDev == "" {
		t.Fatalf("nothing mounted on %s", hostMount)
	}
}

// checkHostMap asserts, from the guest and from the API, that the host's mpatha has its name,
// its device (major:minor) and its mount, that no managed map has a user_friendly_names name,
// and that the agent's drop-ins set neither user_friendly_names nor find_multipaths.
func checkHostMap(t *testing.T, ctx context.Context) {
	t.Helper()
	out := guest(t, ctx, `dmsetup info -c --noheadings --separator ' ' -o name,major,minor,uuid
echo ---
findmnt -n -o MAJ:MIN --mountpoint `+hostMount+`
echo ---
grep -HnE '^[[:space:]]*(user_friendly_names|find_multipaths)' `+baselineConf+` `+overrideConf+` 2>/dev/null || true
echo ---
cat `+hostWriter+`.err 2>/dev/null || true`)
	parts := strings.Split(out, "---\n")
	if len(parts) != 4 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	dev := ""
	for _, line := range strings.Split(parts[0], "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[3] == "mpath-"+hostLUN.wwid() {
			dev = f[1] + ":" + f[2]
			if f[0] != hostMapName {
				t.Errorf("the host's %s was renamed to %s", hostMapName, f[0])
			}
		}
	}
	switch {
	case dev == "":
		t.Errorf("the host's %s (%s) is gone from device-mapper:\n%s", hostMapName, hostLUN.wwid(), parts[0])
	case dev != hostDev:
		t.Errorf("the host's %s is device %s now, %s at the start", hostMapName, dev, hostDev)
	}
	if mnt := strings.TrimSpace(parts[1]); mnt != hostDev {
		t.Errorf("%s is mounted from %q, %s (%s) at the start", hostMount, mnt, hostDev, hostMapName)
	}
	if s := strings.TrimSpace(parts[2]); s != "" {
		t.Errorf("the agent's drop-ins set host-wide naming:\n%s", s)
	}
	if s := strings.TrimSpace(parts[3]); s != "" {
		t.Errorf("the writer on %s failed:\n%s", hostMapName, s)
	}
	maps := guestMaps(t, ctx)
	if m := findMap(maps, hostLUN.wwid()); m == nil || m.Name != hostMapName {
		t.Errorf("multipathd shows %s as %+v", hostMapName, m)
	}
	for _, l := range []lun{lun1, lun2} {
		if m := findMap(maps, l.wwid()); m != nil && mpathName.MatchString(m.Name) {
			t.Errorf("the managed %s is named %s by the host's user_friendly_names", l.name, m.Name)
		}
	}
	// From the API, once the agent reports: mpatha under its name, mounted; managed maps named
	// by alias or WWID.
	st := &mpv1alpha1.MultipathNodeState{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: nodeName}, st); apierrors.IsNotFound(err) || st.Status.MultipathToolsVersion == "" {
		return
	}
	waitNode(t, ctx, time.Minute, hostMapName+" reported under its name, mounted", func(st *mpv1alpha1.MultipathNodeState) error {
		ms := reportedMap(st, hostLUN.wwid())
		if ms == nil || ms.Name != hostMapName || !hasUser(ms.Users, mpv1alpha1.MapUserMount, hostMount) {
			return fmt.Errorf("%s reported as %+v", hostMapName, ms)
		}
		for _, l := range []lun{lun1, lun2} {
			if ms := reportedMap(st, l.wwid()); ms != nil && mpathName.MatchString(ms.Name) {
				return fmt.Errorf("the managed %s reported as %s", l.name, ms.Name)
			}
		}
		return nil
	})
}

// testHostBlacklist: the admin blacklists a managed WWID in a drop-in of their own. The node
// reports it (HostConfigConflict naming the file and line), and the LUN still assembles through
// the render's blacklist_exceptions: reported, not silently overridden, not silently lost.
func testHostBlacklist(t *testing.T, ctx context.Context) {
	guest(t, ctx, fmt.Sprintf("printf '# The admin blacklists a LUN kube-multipath manages.\\nblacklist {\\n\\twwid \"%s\"\\n}\\n' > %s",
		lun2.wwid(), hostBlacklistConf))
	if got := strings.TrimSpace(guest(t, ctx, fmt.Sprintf("sed -n %dp %s", hostBlacklistLine, hostBlacklistConf))); !strings.Contains(got, lun2.wwid()) {
		t.Fatalf("line %d of %s is %q", hostBlacklistLine, hostBlacklistConf, got)
	}
	reconfigure(t, ctx) // as the admin would after editing
	added := time.Now()
	st := waitNode(t, ctx, 2*time.Minute, "the host's blacklist reported", func(st *mpv1alpha1.MultipathNodeState) error {
		c := apimeta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.HostConfigConflictCondition)
		if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, hostBlacklistConf) {
			return fmt.Errorf("no HostConfigConflict naming %s: %+v", hostBlacklistConf, st.Status.Conditions)
		}
		for _, hc := range st.Status.HostConflicts {
			if hc.Type == mpv1alpha1.HostConflictBlacklisted && hc.WWID == lun2.wwid() && hc.File == hostBlacklistConf && hc.Line == hostBlacklistLine {
				return nil
			}
		}
		return fmt.Errorf("hostConflicts lack Blacklisted %s at %s:%d: %+v", lun2.wwid(), hostBlacklistConf, hostBlacklistLine, st.Status.HostConflicts)
	})
	sys.figure("host drop-in blacklisting a managed WWID -> HostConfigConflict on the node: %.1fs", time.Since(added).Seconds())
	t.Logf("HostConfigConflict: %s", apimeta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.HostConfigConflictCondition).Message)
	if m := findMap(guestMaps(t, ctx), lun2.wwid()); m == nil || len(mapDevices(m)) != 2 {
		t.Errorf("the blacklisted managed LUN did not assemble with both paths after reconfigure: %+v", m)
	}
	if out := guest(t, ctx, "cat "+baselineConf); !regexp.MustCompile(`(?s)blacklist_exceptions \{[^}]*` + lun2.wwid()).MatchString(out) {
		t.Errorf("the baseline has no blacklist_exceptions for %s:\n%s", lun2.wwid(), out)
	}
	t.Logf("kubectl multipath status:\n%s", statusMatrix(t, ctx))

	guest(t, ctx, "rm "+hostBlacklistConf)
	reconfigure(t, ctx)
	waitNode(t, ctx, 2*time.Minute, "the conflict gone with the drop-in", func(st *mpv1alpha1.MultipathNodeState) error {
		if c := apimeta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.HostConfigConflictCondition); c != nil && c.Status == metav1.ConditionTrue {
			return fmt.Errorf("HostConfigConflict still True: %s", c.Message)
		}
		if len(st.Status.HostConflicts) > 0 {
			return fmt.Errorf("hostConflicts still listed: %+v", st.Status.HostConflicts)
		}
		return nil
	})
	if m := findMap(guestMaps(t, ctx), lun2.wwid()); m == nil {
		t.Errorf("the managed LUN is gone after the host's blacklist was removed")
	}
}

// reconfigure has multipathd reload its configuration, as an admin does, and waits until it
// has run it: multipathd answers before it reconfigures, and shows "idle" once done.
func reconfigure(t *testing.T, ctx context.Context) {
	t.Helper()
	guest(t, ctx, `multipathd reconfigure >/dev/null
for _ in $(seq 600); do multipathd show daemon | grep -q idle && exit 0; sleep 0.1; done
echo "multipathd not idle: $(multipathd show daemon)" >&2; exit 1`)
}

// testNoRename: the apply's post-check waits for multipathd to have run the new config, so a
// node that says it runs a config already has that config's names (asserted the moment the
// status says so, not after a sleep); and what would rename the host's mpatha is refused at
// admission: an alias taking its name, overrides setting user_friendly_names.
func testNoRename(t *testing.T, ctx context.Context) {
	t.Run("applied-means-renamed", func(t *testing.T) {
		m := findMap(guestMaps(t, ctx), lun2.wwid())
		if m == nil {
			t.Fatal("no map for lun2")
		}
		before := desiredHash(t, ctx)
		if err := updateWWID(ctx, "e2e-lun2", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "e2e-logs4" }); err != nil {
			t.Fatal(err)
		}
		waitNode(t, ctx, 2*time.Minute, "the node to say it runs the rename", func(st *mpv1alpha1.MultipathNodeState) error {
			d, a := st.Spec.DesiredConfig, st.Status.AppliedConfig
			if d == nil || d.Hash == before || a == nil || a.Hash != d.Hash {
				return fmt.Errorf("desired %v, applied %v", d, a)
			}
			return nil
		})
		out := guest(t, ctx, "multipathd show daemon; dmsetup info -c --noheadings --separator ' ' -o name,uuid")
		if !strings.Contains(out, "e2e-logs4 mpath-"+lun2.wwid()) || strings.Contains(out, m.Name+" mpath-") {
			t.Errorf("the node says it runs the config renaming %s to e2e-logs4, multipathd does not have it yet:\n%s", m.Name, out)
		}
		if !strings.Contains(strings.SplitN(out, "\n", 2)[0], "idle") {
			t.Errorf("multipathd is not idle once the node says it runs the config: %s", out)
		}
	})
	t.Run("naming-refused-at-admission", func(t *testing.T) {
		steal := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "e2e-steal-mpatha"},
			Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0b8000e2e0000000000000000001", Alias: hostMapName}}
		if err := sys.c.Create(ctx, steal); err == nil {
			_ = sys.c.Delete(ctx, steal)
			t.Errorf("a MultipathWWID with alias %s for another WWID was accepted", hostMapName)
		} else {
			t.Logf("refused: %v", err)
		}
		if err := updateWWID(ctx, "e2e-lun2", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = hostMapName }); err == nil {
			t.Errorf("the alias change of e2e-lun2 to %s was accepted", hostMapName)
		}
		for _, o := range []string{"defaults {\n\tuser_friendly_names \"no\"\n}\n", "overrides {\n\tuser_friendly_names \"no\"\n}\n"} {
			if err := updateConfig(ctx, func(c *mpv1alpha1.MultipathConfig) { c.Spec.Overrides = o }); err == nil {
				_ = updateConfig(ctx, func(c *mpv1alpha1.MultipathConfig) { c.Spec.Overrides = "" })
				t.Errorf("overrides setting user_friendly_names were accepted:\n%s", o)
			} else {
				t.Logf("refused: %v", err)
			}
		}
	})
}

// testAdoptionHeld: a MultipathWWID for the WWID of the host's own mpatha, mounted, would
// rename it (to its alias) and break what mounts it by name: the LUN is held out of the render
// (Stalled, OpenOnNode, naming the node and mpatha), the node keeps mpatha as it is, and the
// other LUNs keep rolling out. Deleting the MultipathWWID ends it.
func testAdoptionHeld(t *testing.T, ctx context.Context) {
	adopt := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "e2e-adopt"},
		Spec: mpv1alpha1.MultipathWWIDSpec{WWID: hostLUN.wwid(), Alias: "e2e-adopt"}}
	created := time.Now()
	if err := sys.c.Create(ctx, adopt); err != nil {
		if !strings.Contains(err.Error(), hostMapName) {
			t.Fatalf("refused without naming %s: %v", hostMapName, err)
		}
		t.Logf("refused at admission: %v", err)
		return
	}
	waitWWID(t, ctx, "e2e-adopt", 2*time.Minute, "held out of the render", func(w *mpv1alpha1.MultipathWWID) error {
		c := apimeta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.StalledCondition)
		switch {
		case c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.OpenOnNodeReason:
			return fmt.Errorf("Stalled %+v", c)
		case !strings.Contains(c.Message, nodeName) || !strings.Contains(c.Message, hostMapName):
			return fmt.Errorf("Stalled does not name the node and %s: %s", hostMapName, c.Message)
		case w.Status.RenderedAlias != nil:
			return fmt.Errorf("rendered as %q", *w.Status.RenderedAlias)
		}
		t.Logf("held: %s", c.Message)
		return nil
	})
	sys.figure("new MultipathWWID for the host's mounted mpatha -> held (Stalled OpenOnNode): %.1fs", time.Since(created).Seconds())
	// The node runs a config without it, and mpatha keeps its name and mount (checkHostMap
	// after every scenario); the other LUNs are still applied.
	waitApplied(t, ctx, "")
	guest(t, ctx, fmt.Sprintf("! grep -q %s %s && test -b /dev/mapper/e2e-data", hostLUN.wwid(), baselineConf))
	if err := sys.c.Delete(ctx, adopt); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, time.Minute, adopt)
}

// testOpenMapHeld: a managed map with a file system mounted on the node and no
// PersistentVolume is in use: the node reports the mount, deleting its MultipathWWID is refused
// or held, and the map stays until unmounted; then the deletion completes and the map goes.
func testOpenMapHeld(t *testing.T, ctx context.Context) {
	m := findMap(guestMaps(t, ctx), lun2.wwid())
	if m == nil {
		t.Fatal("no map for lun2")
	}
	dev := "/dev/mapper/" + m.Name
	guest(t, ctx, "mkfs.ext4 -q -F "+dev+" && mount "+dev+" /mnt/logs")
	mounted := time.Now()
	waitNode(t, ctx, time.Minute, "the mount reported as the map's user", func(st *mpv1alpha1.MultipathNodeState) error {
		ms := reportedMap(st, lun2.wwid())
		if ms == nil || ms.OpenCount < 1 || !hasUser(ms.Users, mpv1alpha1.MapUserMount, "/mnt/logs") {
			return fmt.Errorf("%s reported as %+v", m.Name, ms)
		}
		return nil
	})
	waitWWID(t, ctx, "e2e-lun2", time.Minute, "in use: open on the node", func(w *mpv1alpha1.MultipathWWID) error {
		c := apimeta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.InUseCondition)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != mpv1alpha1.OpenOnNodeReason || !openOnNode(w, "/mnt/logs") {
			return fmt.Errorf("InUse %+v, openOn %+v", c, w.Status.OpenOn)
		}
		return nil
	})
	sys.figure("managed map mounted on the node -> MultipathWWID InUse (OpenOnNode): %.1fs", time.Since(mounted).Seconds())

	obj := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "e2e-lun2"}}
	refused := sys.c.Delete(ctx, obj)
	if refused != nil {
		if !strings.Contains(refused.Error(), nodeName) || !strings.Contains(refused.Error(), "/mnt/logs") {
			t.Errorf("the refusal does not name the node and the mount: %v", refused)
		}
		t.Logf("deletion refused at admission: %v", refused)
	} else {
		waitWWID(t, ctx, "e2e-lun2", time.Minute, "the deletion held", func(w *mpv1alpha1.MultipathWWID) error {
			c := apimeta.FindStatusCondition(w.Status.Conditions, mpv1alpha1.InUseCondition)
			switch {
			case w.DeletionTimestamp == nil || !slices.Contains(w.Finalizers, mpv1alpha1.InUseFinalizer):
				return fmt.Errorf("not held: deletion %v, finalizers %v", w.DeletionTimestamp, w.Finalizers)
			case c == nil || c.Reason != mpv1alpha1.OpenOnNodeReason || !strings.Contains(c.Message, nodeName) || !strings.Contains(c.Message, "/mnt/logs"):
				return fmt.Errorf("InUse does not name the node and the mount: %+v", c)
			}
			t.Logf("deletion held: %s", c.Message)
			return nil
		})
	}
	// The map stays: rendered, assembled, mounted.
	waitApplied(t, ctx, "")
	guest(t, ctx, fmt.Sprintf("grep -q %s %s && grep -q /%s/ %s && test -b %s && mountpoint -q /mnt/logs",
		lun2.wwid(), baselineConf, lun2.wwid(), wwidsFile, dev))

	guest(t, ctx, "umount /mnt/logs")
	freed := time.Now()
	if refused != nil {
		// Admission reads status.openOn, which follows the node's next report: an admin's
		// retry is accepted once the node has said the map is free.
		if err := poll(ctx, 2*time.Minute, func() error { return client.IgnoreNotFound(sys.c.Delete(ctx, obj)) }); err != nil {
			t.Fatalf("deleting e2e-lun2 once unmounted: %v", err)
		}
	}
	waitGone(t, ctx, 2*time.Minute, obj)
	waitGuest(t, ctx, 2*time.Minute, "the map gone from the node", fmt.Sprintf(
		"! grep -q %s %s && ! grep -q %s %s && ! dmsetup info -c --noheadings -o uuid | grep -q mpath-%s",
		lun2.wwid(), baselineConf, lun2.wwid(), wwidsFile, lun2.wwid()))
	sys.figure("unmounted -> MultipathWWID deleted and its map gone from the node: %.1fs", time.Since(freed).Seconds())
	// The files change before the node's status says so: compare once it does.
	waitApplied(t, ctx, "")
	checkAppliedFiles(t, ctx)
}

// --- helpers -----------------------------------------------------------------------------------

func hasUser(users []mpv1alpha1.MapUser, kind mpv1alpha1.MapUserKind, name string) bool {
	return slices.ContainsFunc(users, func(u mpv1alpha1.MapUser) bool { return u.Kind == kind && u.Name == name })
}

// openOnNode says whether the LUN's status lists the guest's node with mount as a user.
func openOnNode(w *mpv1alpha1.MultipathWWID, mount string) bool {
	return slices.ContainsFunc(w.Status.OpenOn, func(u mpv1alpha1.NodeUse) bool {
		return u.Node == nodeName && hasUser(u.Users, mpv1alpha1.MapUserMount, mount)
	})
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, ctx context.Context, timeout time.Duration, obj client.Object) {
	t.Helper()
	err := poll(ctx, timeout, func() error {
		err := sys.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there: deletion %v, finalizers %v", obj.GetDeletionTimestamp(), obj.GetFinalizers())
	})
	if err != nil {
		t.Fatalf("waiting %s for %T %s to go: %v", timeout, obj, obj.GetName(), err)
	}
}
