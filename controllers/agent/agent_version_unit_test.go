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
	"errors"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
)

func TestVersionCondition(t *testing.T) {
	t.Parallel()
	for version, reason := range map[string]string{
		"0.8.4": "", "0.9.4": "", "0.11.1": "", "0.14.3": "", "0.8.5": "",
		"0.8.3": mpv1alpha1.VersionUntestedReason, "0.14.4": mpv1alpha1.VersionUntestedReason, "1.0": mpv1alpha1.VersionUntestedReason,
		"": mpv1alpha1.VersionUnknownReason, "v0.9.4-rc": mpv1alpha1.VersionUnknownReason,
	} {
		st := &mpv1alpha1.MultipathNodeState{}
		setStatus(st, statusInput{maps: &mapsReport{version: version}})
		c := conditions.Get(st, mpv1alpha1.MultipathToolsUntestedCondition)
		switch {
		case reason == "" && c != nil:
			t.Errorf("%q: %+v, want no condition", version, c)
		case reason != "" && (c == nil || c.Status != "True" || c.Reason != reason):
			t.Errorf("%q: %+v, want True %s", version, c, reason)
		}
		// Back in range (an upgrade), the condition goes.
		setStatus(st, statusInput{maps: &mapsReport{version: "0.9.4"}})
		if c := conditions.Get(st, mpv1alpha1.MultipathToolsUntestedCondition); c != nil {
			t.Errorf("%q then 0.9.4: %+v remains", version, c)
		}
	}

	// A pass that did not reach multipathd leaves the condition as it was.
	st := &mpv1alpha1.MultipathNodeState{}
	setStatus(st, statusInput{maps: &mapsReport{version: "0.15.0"}})
	setStatus(st, statusInput{daemonErr: errors.New("multipathd is not reachable")})
	if c := conditions.Get(st, mpv1alpha1.MultipathToolsUntestedCondition); c == nil {
		t.Error("the condition went while multipathd was down")
	}
}
