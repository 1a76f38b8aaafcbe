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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// setVersionCondition sets MultipathToolsUntested on a node whose reported multipath-tools
// version is unreadable or outside the tested range, and removes it otherwise. The agent writes
// it rather than a manager controller: the agent alone reads the version, owns the whole
// status by server-side apply, and writes the condition in the same write as the version, so
// the two never disagree and a node in range costs no write. Call it only for a pass that
// reached multipathd: while multipathd is down, Ready already says so and the version is
// whatever was last read.
func setVersionCondition(st *mpv1alpha1.MultipathNodeState) {
	v := st.Status.MultipathToolsVersion
	first, last := multipathconf.TestedVersions[0], multipathconf.TestedVersions[len(multipathconf.TestedVersions)-1]
	switch {
	case !multipathconf.ValidVersion(v):
		read := "no version"
		if v != "" {
			read = fmt.Sprintf("the version %q", v)
		}
		conditions.Set(st, metav1.Condition{
			Type:   mpv1alpha1.MultipathToolsUntestedCondition,
			Status: metav1.ConditionTrue,
			Reason: mpv1alpha1.VersionUnknownReason,
			Message: conditions.Truncate(fmt.Sprintf("multipathd reported %s: admission cannot refuse what this node's multipath-tools does not take (tested: %s to %s).",
				read, first, last), maxMessage),
		})
	case !multipathconf.InTestedRange(v):
		conditions.Set(st, metav1.Condition{
			Type:   mpv1alpha1.MultipathToolsUntestedCondition,
			Status: metav1.ConditionTrue,
			Reason: mpv1alpha1.VersionUntestedReason,
			Message: fmt.Sprintf("multipath-tools %s is outside the tested range %s to %s: admission checks it as its nearest tested version, and what that version takes may differ.",
				v, first, last),
		})
	default:
		conditions.Delete(st, mpv1alpha1.MultipathToolsUntestedCondition)
	}
}
