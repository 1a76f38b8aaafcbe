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

package agent

import (
	"fmt"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
)

// WouldRename host conflicts: every rename of a refused apply while the refusal stands; only
// a refused adoption of an open map afterwards, while the map keeps the host's name, stays
// open and the desired config leaves its WWID out.
func TestWouldRenameConflicts(t *testing.T) {
	const adopted, boot = "3600a0980000000000000000000000a01", "36001405b000000000000000000000001"
	refusal := &hostfs.ApplyError{Step: hostfs.StepPreflight, Err: fmt.Errorf("%w: ...", hostfs.ErrWouldRename), Renames: []hostfs.Rename{
		{WWID: adopted, From: "legacy", To: "data", Reason: "the rendered config names it data", Users: "mounted at /srv/a"},
		{WWID: boot, From: boot, To: "mpathb", Reason: "user_friendly_names is yes in defaults and the bindings file binds it to mpathb"},
	}}
	mapsOf := func(name string, open bool) *mapsReport {
		m := mpv1alpha1.MapStatus{WWID: adopted, Name: name, State: mpv1alpha1.MapOptimal}
		if open {
			m.Users = []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/srv/a"}}
		}
		return &mapsReport{maps: []mpv1alpha1.MapStatus{m, {WWID: boot, Name: boot, State: mpv1alpha1.MapOptimal, OpenCount: 1}}}
	}
	brief := func(cs []mpv1alpha1.HostConflict) string {
		var out []string
		for _, c := range cs {
			if c.Type != mpv1alpha1.HostConflictWouldRename {
				t.Errorf("conflict of type %s", c.Type)
			}
			out = append(out, c.WWID+"="+c.Alias)
		}
		return strings.Join(out, ",")
	}

	r := &Reconciler{}
	got := r.wouldRename(&scope{applyErr: fmt.Errorf("re-asserting failed: %w", refusal), maps: mapsOf("legacy", true)}, map[string]string{adopted: "data"})
	if b := brief(got); b != adopted+"=legacy,"+boot+"="+boot {
		t.Fatalf("while refused: %s, want both renames", b)
	}
	if m := got[0].Message; !strings.Contains(m, "its map legacy") || !strings.Contains(m, "in use (mounted at /srv/a), to data") ||
		!strings.Contains(m, "unmount it") || !strings.Contains(m, `set the MultipathWWID's spec.alias to "legacy"`) {
		t.Errorf("adoption message: %s", m)
	}
	if m := got[1].Message; !strings.Contains(m, "would rename map "+boot) || !strings.Contains(m, "which the operator does not manage, to mpathb") ||
		!strings.Contains(m, "bindings file binds it to mpathb") {
		t.Errorf("unmanaged rename message: %s", m)
	}

	for _, step := range []struct {
		name  string
		s     *scope
		names map[string]string
		want  string
	}{
		{"the LUN left out, the map still mounted as legacy: the adoption stays", &scope{maps: mapsOf("legacy", true)}, map[string]string{}, adopted + "=legacy"},
		{"the maps unknown this pass: it stays", &scope{}, map[string]string{}, adopted + "=legacy"},
		{"the map renamed by hand: it goes", &scope{maps: mapsOf("other", true)}, map[string]string{}, ""},
	} {
		if b := brief(r.wouldRename(step.s, step.names)); b != step.want {
			t.Errorf("%s: %q, want %q", step.name, b, step.want)
		}
	}

	for name, tc := range map[string]struct {
		s     *scope
		names map[string]string
	}{
		"closed":                         {&scope{maps: mapsOf("legacy", false)}, map[string]string{}},
		"rendered again, named as it is": {&scope{maps: mapsOf("legacy", true)}, map[string]string{adopted: "legacy"}},
	} {
		r := &Reconciler{}
		r.wouldRename(&scope{applyErr: refusal, maps: mapsOf("legacy", true)}, map[string]string{adopted: "data"})
		if b := brief(r.wouldRename(tc.s, tc.names)); b != "" {
			t.Errorf("%s: %q still reported", name, b)
		}
	}
}
