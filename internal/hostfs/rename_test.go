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
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// The upgrade case of issue 16: a node that ran the old render (user_friendly_names forced to
// no) has a map the operator does not manage named after its WWID; the host's own config says
// user_friendly_names yes. The new render no longer forces it, so multipathd would rename that
// map at the reconfigure: the apply predicts it from the candidate's merged config (the real
// multipath -t) and the bindings file, and refuses before writing anything.
func TestApplyRefusesToRenameMapsItDoesNotManage(t *testing.T) {
	if err := mptest.Available(); err != nil {
		t.Skipf("the real parser is needed: %v", err)
	}
	ufnYes := withFile(ConfDir+"/50-host.conf", "defaults {\n\tuser_friendly_names yes\n}\n")
	tests := map[string]struct {
		opts    []hostOption
		name    string // the unmanaged map's name now
		renames []Rename
	}{
		"user_friendly_names yes and a binding: the WWID-named map would become mpatha": {
			opts: []hostOption{ufnYes, withFile(EtcMultipathDir+"/bindings", "# Multipath bindings, Version : 1.0\nmpatha "+bootWWID+"\n")},
			name: bootWWID,
			renames: []Rename{{WWID: bootWWID, From: bootWWID, To: "mpatha",
				Reason: `user_friendly_names is yes in defaults and the bindings file binds it to mpatha`}},
		},
		"user_friendly_names yes and no binding: multipathd would allocate a name": {
			opts: []hostOption{ufnYes},
			name: bootWWID,
			renames: []Rename{{WWID: bootWWID, From: bootWWID, To: "mpath<next free>",
				Reason: `user_friendly_names is yes in defaults and the bindings file has no name for it: multipathd would allocate a new mpath name`}},
		},
		"user_friendly_names yes and the map already has its bound name": {
			opts: []hostOption{ufnYes, withFile(EtcMultipathDir+"/bindings", "mpatha "+bootWWID+"\n")},
			name: "mpatha",
		},
		"the host's default names maps after their WWID": {
			name: bootWWID,
		},
		"a map named mpathb with user_friendly_names no would become its WWID": {
			name: "mpathb",
			renames: []Rename{{WWID: bootWWID, From: "mpathb", To: bootWWID,
				Reason: `user_friendly_names is "no" in defaults, so the map is named after its WWID`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			th := newHost(t, tc.opts...)
			th.Validator = &ParserValidator{Root: "/"}
			th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: bootWWID, name: tc.name, paths: 2})})
			before := th.files(t)
			_, err := th.Apply(t.Context(), render(t, wwidA))
			if tc.renames == nil {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				return
			}
			var ae *ApplyError
			if !errors.As(err, &ae) || !errors.Is(err, ErrWouldRename) || ae.Step != StepPreflight {
				t.Fatalf("Apply = %v, want a refusal wrapping ErrWouldRename", err)
			}
			if !slices.Equal(ae.Renames, tc.renames) {
				t.Errorf("renames = %+v, want %+v", ae.Renames, tc.renames)
			}
			if !strings.Contains(err.Error(), tc.renames[0].From+" ("+bootWWID+") would become "+tc.renames[0].To) {
				t.Errorf("the error does not name the map: %v", err)
			}
			if after := th.files(t); !maps.Equal(after, before) {
				t.Errorf("files changed although the apply was refused: %v", after)
			}
			if slices.Contains(th.daemon.Commands(), multipathd.CmdReconfigure) {
				t.Error("multipathd was reconfigured although the apply was refused")
			}
		})
	}
}

// renderAlias renders one LUN, wwid named alias (its WWID when alias is "").
func renderAlias(t *testing.T, wwid, alias string) *multipathconf.Rendered {
	t.Helper()
	r, err := multipathconf.Render(nil, []mpv1alpha1.MultipathWWID{{
		ObjectMeta: metav1.ObjectMeta{Name: "lun"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid, Alias: alias}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The adoption case of issue 16: the host assembles a LUN as mpatha (user_friendly_names, its
// own bindings) and has it mounted; a MultipathWWID for it then names it otherwise. An open map
// the host named is refused before anything is written, whatever the validator; a closed one
// is adopted and renamed; a rename of a name the operator gave passes (the manager decided it).
func TestApplyRefusesToAdoptAnOpenMapUnderAnotherName(t *testing.T) {
	mounted := func(m multipathd.Map) string {
		if m.Name == "mpatha" || m.Name == "legacy" || m.Name == "old" {
			return "mounted at /srv/a"
		}
		return ""
	}
	tests := map[string]struct {
		inUse    func(multipathd.Map) string
		previous string // the alias an earlier apply gave wwidA; "" for none
		name     string // the map's name now
		alias    string // the alias the candidate gives wwidA
		refused  bool
	}{
		"an open map the host named mpatha would become the WWID": {inUse: mounted, name: "mpatha", refused: true},
		"an open map the host named mpatha would become foo":      {inUse: mounted, name: "mpatha", alias: "foo", refused: true},
		"a closed map the host named is adopted and renamed":      {inUse: func(multipathd.Map) string { return "" }, name: "mpatha", alias: "foo"},
		"without InUse every map counts as closed":                {name: "mpatha", alias: "foo"},
		"an open map that already has the rendered name":          {inUse: mounted, name: "legacy", alias: "legacy"},
		"an open map renamed from the name the operator gave it":  {inUse: mounted, previous: "old", name: "old", alias: "new"},
		"an open map whose name is not the one the operator gave": {inUse: mounted, previous: "old", name: "mpatha", alias: "new", refused: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			th := newHost(t)
			current := tc.name
			reply := func() {
				th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(testMap{wwid: wwidA, name: current, paths: 2})})
			}
			reply()
			want := renderAlias(t, wwidA, tc.alias)
			to := want.Names[wwidA]
			th.hooks.afterReconfigure = func() { current = to; reply() } // multipathd renames it
			if tc.previous != "" {
				current = tc.previous
				to = tc.previous
				reply()
				if _, err := th.Apply(t.Context(), renderAlias(t, wwidA, tc.previous)); err != nil {
					t.Fatalf("applying the previous config: %v", err)
				}
				current, to = tc.name, want.Names[wwidA]
				reply()
			}
			th.InUse = tc.inUse
			before, reconfigures := th.files(t), th.reconfigures()
			res, err := th.Apply(t.Context(), want)
			if !tc.refused {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if !res.Reconfigured || current != to {
					t.Errorf("reconfigured %v, map named %s; want it reconfigured and named %s", res.Reconfigured, current, to)
				}
				return
			}
			var ae *ApplyError
			if !errors.As(err, &ae) || !errors.Is(err, ErrWouldRename) || ae.Step != StepPreflight {
				t.Fatalf("Apply = %v, want a pre-flight refusal wrapping ErrWouldRename", err)
			}
			wantRenames := []Rename{{WWID: wwidA, From: tc.name, To: to, Users: "mounted at /srv/a",
				Reason: "the rendered config names it " + to + ", and kube-multipath did not give it its name " + tc.name + " (the host did)"}}
			if to == wwidA {
				wantRenames[0].Reason = "the rendered config names it after its WWID, and kube-multipath did not give it its name " + tc.name + " (the host did)"
			}
			if !slices.Equal(ae.Renames, wantRenames) {
				t.Errorf("renames = %+v\nwant %+v", ae.Renames, wantRenames)
			}
			if msg := tc.name + " (" + wwidA + ") would become " + to; !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "in use: mounted at /srv/a") {
				t.Errorf("the error does not name the map, its names and what holds it: %v", err)
			}
			if after := th.files(t); !maps.Equal(after, before) {
				t.Errorf("files changed although the apply was refused: %v", after)
			}
			if th.reconfigures() != reconfigures {
				t.Error("multipathd was reconfigured although the apply was refused")
			}
		})
	}
}

// An adoption refusal and a predicted rename of an unmanaged map are reported together, by
// WWID, when the validator prints the merged config.
func TestApplyReportsAdoptionsBesideUnmanagedRenames(t *testing.T) {
	if err := mptest.Available(); err != nil {
		t.Skipf("the real parser is needed: %v", err)
	}
	th := newHost(t, withFile(ConfDir+"/50-host.conf", "defaults {\n\tuser_friendly_names yes\n}\n"),
		withFile(EtcMultipathDir+"/bindings", "mpatha "+wwidA+"\nmpathb "+bootWWID+"\n"))
	th.Validator = &ParserValidator{Root: "/"}
	th.InUse = func(m multipathd.Map) string { return "held by vg0-data" }
	th.daemon.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(
		testMap{wwid: wwidA, name: "mpatha", paths: 2}, testMap{wwid: bootWWID, name: bootWWID, paths: 2})})
	_, err := th.Apply(t.Context(), renderAlias(t, wwidA, "foo"))
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, ErrWouldRename) {
		t.Fatalf("Apply = %v, want a refusal wrapping ErrWouldRename", err)
	}
	var got []string
	for _, rn := range ae.Renames {
		got = append(got, rn.WWID+":"+rn.From+">"+rn.To+":"+rn.Users)
	}
	want := []string{bootWWID + ":" + bootWWID + ">mpathb:", wwidA + ":mpatha>foo:held by vg0-data"}
	if !slices.Equal(got, want) {
		t.Errorf("renames = %q, want %q", got, want)
	}
}
