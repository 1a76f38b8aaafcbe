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
