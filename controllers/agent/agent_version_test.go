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

package agent_test

import (
	"fmt"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
)

// A node whose multipathd reports a version outside the tested range says so on its
// MultipathNodeState, beside the version; one in range carries no such condition.
func TestAgentReportsAnUntestedVersion(t *testing.T) {
	untested := "node-untested-version"
	startAgent(t, untested, func(n *node) { n.daemon.SetVersion("0.15.0") })
	createState(t, untested, nil)
	tested := "node-tested-version"
	startAgent(t, tested, nil)
	createState(t, tested, nil)

	eventually(t, func() error {
		st := getState(t, untested)
		if st.Status.MultipathToolsVersion != "0.15.0" {
			return fmt.Errorf("version %q reported", st.Status.MultipathToolsVersion)
		}
		c := conditions.Get(st, mpv1alpha1.MultipathToolsUntestedCondition)
		if c == nil || c.Status != "True" || c.Reason != mpv1alpha1.VersionUntestedReason ||
			!strings.Contains(c.Message, "0.15.0 is outside the tested range 0.8.4 to 0.14.3") {
			return fmt.Errorf("no MultipathToolsUntested condition for 0.15.0: %+v", st.Status.Conditions)
		}
		return nil
	})
	eventually(t, func() error {
		st := getState(t, tested)
		if st.Status.MultipathToolsVersion != "0.9.4" {
			return fmt.Errorf("version %q reported", st.Status.MultipathToolsVersion)
		}
		if c := conditions.Get(st, mpv1alpha1.MultipathToolsUntestedCondition); c != nil {
			return fmt.Errorf("0.9.4 reported untested: %+v", c)
		}
		return nil
	})
}
