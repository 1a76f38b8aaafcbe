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

package health

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// The example PrometheusRule alerts on the gauges this package exports: a renamed metric would
// silence an alert, so every metric the rule names must be registered, and every state label
// it selects must be exported.
func TestPrometheusRuleNamesRegisteredMetrics(t *testing.T) {
	rule, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	labels := map[string]bool{}
	for _, f := range families {
		registered[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[f.GetName()+"{"+l.GetName()+"=\""+l.GetValue()+"\"}"] = true
			}
		}
	}
	exprs := regexp.MustCompile(`expr: max\((kube_multipath_[a-z_]+)(\{[a-z]+="[a-z]+"\})?\) > 0`).FindAllStringSubmatch(string(rule), -1)
	if len(exprs) != 6 {
		t.Fatalf("found %d alert expressions, want 6 (failed, missing, degraded, apply failing, host config conflict, stale)", len(exprs))
	}
	for _, e := range exprs {
		if !registered[e[1]] {
			t.Errorf("the rule names %s, which is not registered", e[1])
		}
		if e[2] != "" && !labels[e[1]+e[2]] {
			t.Errorf("the rule selects %s%s, which is not exported", e[1], e[2])
		}
	}
}
