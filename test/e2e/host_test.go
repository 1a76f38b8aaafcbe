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

// What the operator does not own (issue 16): the host's own mpatha, named by the host's
// user_friendly_names yes and bindings, mounted for the whole run, never renamed by an apply.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
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
	// From the API, once the agent reports: mpatha under its name; managed maps named by alias
	// or WWID.
	st := &mpv1alpha1.MultipathNodeState{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: nodeName}, st); apierrors.IsNotFound(err) || st.Status.MultipathToolsVersion == "" {
		return
	}
	waitNode(t, ctx, time.Minute, hostMapName+" reported under its name", func(st *mpv1alpha1.MultipathNodeState) error {
		ms := reportedMap(st, hostLUN.wwid())
		if ms == nil || ms.Name != hostMapName {
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
