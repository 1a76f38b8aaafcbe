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

package health_test

import (
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/health"
)

func TestLeaseName(t *testing.T) {
	long := strings.Repeat("n", 250)
	tests := map[string]struct {
		node string
		want string
	}{
		"the prefix and the node name":                  {node: "worker-1", want: "multipath-agent-worker-1"},
		"a name too long is cut and hashed, within 253": {node: long, want: "multipath-agent-" + long[:220] + "-" + "%hash"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := health.LeaseName(tc.node)
			if strings.HasSuffix(tc.want, "%hash") {
				if len(got) != 253 || !strings.HasPrefix(got, strings.TrimSuffix(tc.want, "%hash")) || health.LeaseName(long+"x") == got {
					t.Errorf("LeaseName(long) = %q (%d)", got, len(got))
				}
				return
			}
			if got != tc.want {
				t.Errorf("LeaseName(%q) = %q, want %q", tc.node, got, tc.want)
			}
		})
	}
}

func TestLeaseNameFitsAnObjectName(t *testing.T) {
	t.Parallel()
	if got := health.LeaseName("worker-1"); got != "multipath-agent-worker-1" {
		t.Errorf("LeaseName = %q", got)
	}
	long := strings.Repeat("a", 253)
	got := health.LeaseName(long)
	if len(got) > 253 || got == health.LeaseName(long[:252]+"b") || !strings.HasPrefix(got, health.LeasePrefix) {
		t.Errorf("LeaseName of a 253-character node = %q (%d)", got, len(got))
	}
}
