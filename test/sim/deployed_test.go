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

package sim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The harness runs the manager and the agent with their manifests' GOMEMLIMIT.
func TestDeployedEnvReadsGOMEMLIMIT(t *testing.T) {
	for _, m := range []string{"config/manager/manager.yaml", "config/agent/daemonset.yaml"} {
		env, err := DeployedEnv(m)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "GOMEMLIMIT=") && len(e) > len("GOMEMLIMIT=") }) {
			t.Errorf("%s: no GOMEMLIMIT in %v", m, env)
		}
	}
}

func TestRequestKey(t *testing.T) {
	for _, c := range []struct{ method, path, ctype, want string }{
		{"GET", "/api/v1/namespaces/ns/configmaps/x", "", "get configmaps"},
		{"GET", "/api/v1/namespaces/ns/configmaps?watch=true", "", "watch configmaps"},
		{"GET", "/apis/multipath.kube-multipath.io/v1alpha1/multipathnodestates", "", "list multipathnodestates"},
		{"PATCH", "/apis/multipath.kube-multipath.io/v1alpha1/multipathnodestates/n1/status", "application/apply-patch+yaml", "apply multipathnodestates/status"},
		{"PATCH", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", "application/merge-patch+json", "patch leases"},
		{"POST", "/apis/events.k8s.io/v1/namespaces/ns/events", "", "create events"},
		{"GET", "/api/v1/namespaces/ns", "", "get namespaces"},
	} {
		u, _ := url.Parse("https://h" + c.path)
		req := &http.Request{Method: c.method, URL: u, Header: http.Header{"Content-Type": {c.ctype}}}
		if got := RequestKey(req); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestSummariseNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := Summarise(ds)
	if got.P50 != 50 || got.P95 != 95 || got.P99 != 99 || got.Max != 100 || got.Count != 100 {
		t.Fatalf("got %+v", got)
	}
	if (Summarise(nil) != Latencies{}) {
		t.Fatal("empty input must give zero")
	}
}
