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

package deploy

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// metricDef is a metric the code exports: its labels, and whether it is a histogram.
type metricDef struct {
	labels    []string
	histogram bool
}

var (
	// prometheus.NewCounter(Vec)/NewGauge(Vec)/NewHistogram(Vec)(prometheus.XOpts{Name: "...", ...}, []string{...})
	optsMetric = regexp.MustCompile(`(?s)prometheus\.New(Counter|Gauge|Histogram)(Vec)?\(prometheus\.\w+Opts\{\s*Name:\s*"(kube_multipath_\w+)".*?\}(?:,\s*\[\]string\{([^}]*)\})?\)`)
	// prometheus.NewDesc("...", "help", []string{...}, ...)
	descMetric = regexp.MustCompile(`(?s)prometheus\.NewDesc\("(kube_multipath_\w+)",\s*"(?:[^"\\]|\\.)*",\s*\[\]string\{([^}]*)\}`)
	quoted     = regexp.MustCompile(`"(\w+)"`)
	// A metric name in PromQL, with its label matchers if any.
	selector = regexp.MustCompile(`(kube_multipath_\w+)(\{([^}]*)\})?`)
	matcher  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)`)
	grouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"pod", "instance", "namespace", "job", "container", "service", "node"}

// exportedMetrics reads every kube_multipath_* metric the code defines, with its labels.
func exportedMetrics(t *testing.T) map[string]metricDef {
	t.Helper()
	root := testenv.RepoRoot()
	out := map[string]metricDef{}
	for _, dir := range []string{"controllers", "internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range optsMetric.FindAllStringSubmatch(string(src), -1) {
				out[m[3]] = metricDef{labels: labelList(m[4]), histogram: m[1] == "Histogram"}
			}
			for _, m := range descMetric.FindAllStringSubmatch(string(src), -1) {
				out[m[1]] = metricDef{labels: labelList(m[2])}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d kube_multipath metrics in the code (%v): the patterns no longer match the code", len(out), out)
	}
	return out
}

func labelList(s string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// checkQuery returns what is wrong with a PromQL expression: metrics the code does not export,
// labels they do not have.
func checkQuery(expr string, metrics map[string]metricDef) []string {
	var problems []string
	labels := slices.Clone(targetLabels)
	found := false
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		def, ok := metrics[name]
		if !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(name, suffix); base != name {
					if d, isHist := metrics[base]; isHist && d.histogram {
						def, ok = d, true
						if suffix == "_bucket" {
							def.labels = append(slices.Clone(def.labels), "le")
						}
					}
				}
			}
		}
		if !ok {
			problems = append(problems, "metric "+name+" is not exported by the code")
			continue
		}
		found = true
		labels = append(labels, def.labels...)
		for _, l := range matcher.FindAllStringSubmatch(m[3], -1) {
			if !slices.Contains(def.labels, l[1]) && !slices.Contains(targetLabels, l[1]) {
				problems = append(problems, "metric "+name+" has no label "+l[1])
			}
		}
	}
	if !found && len(problems) == 0 {
		problems = append(problems, "names no kube_multipath metric")
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
				problems = append(problems, "groups by "+l+", a label none of its metrics has")
			}
		}
	}
	return problems
}

// TestGrafanaDashboardQueriesExportedMetrics: every query of config/grafana names metrics the
// manager or the agent export, with labels they have.
func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	metrics := exportedMetrics(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "kube-multipath-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without uid or panels: %+v", dash)
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, problem := range checkQuery(q.Expr, metrics) {
				t.Errorf("panel %q, query %s: %s", p.Title, q.Expr, problem)
			}
			for _, m := range selector.FindAllStringSubmatch(q.Expr, -1) {
				used[strings.TrimSuffix(m[1], "_bucket")] = true
			}
		}
	}
	for name := range metrics {
		if !used[name] {
			t.Errorf("metric %s is on no panel of the dashboard", name)
		}
	}
}

// TestPrometheusRulesQueryExportedMetrics applies the same check to the alerts.
func TestPrometheusRulesQueryExportedMetrics(t *testing.T) {
	metrics := exportedMetrics(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert, Expr string
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			n++
			for _, problem := range checkQuery(r.Expr, metrics) {
				t.Errorf("alert %s, %s: %s", r.Alert, r.Expr, problem)
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rule read")
	}
}

// TestQueryCheckCatchesMistakes keeps the checker honest: it refuses what it must.
func TestQueryCheckCatchesMistakes(t *testing.T) {
	metrics := map[string]metricDef{"kube_multipath_luns": {labels: []string{"state"}},
		"kube_multipath_agent_apply_duration_seconds": {histogram: true}}
	for expr, want := range map[string]string{
		`max(kube_multipath_lun)`:                                           "metric kube_multipath_lun is not exported",
		`max(kube_multipath_luns{status="failed"})`:                         "has no label status",
		`max by (wwid) (kube_multipath_luns)`:                               "groups by wwid",
		`sum(rate(kube_multipath_agent_apply_duration_seconds_bucket[5m]))`: "",
		`up`: "names no kube_multipath metric",
	} {
		got := strings.Join(checkQuery(expr, metrics), "; ")
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: problems %q, want %q", expr, got, want)
		}
	}
}
