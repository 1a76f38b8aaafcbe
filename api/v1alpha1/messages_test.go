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

package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestAdmissionMessages sends bad objects to a real kube-apiserver with the CRDs installed and
// compares what it answers, as kubectl prints it, with testdata/admission-messages.golden. The
// messages must read like `kubectl multipath render`'s: the field and the rule in words, no raw
// regular expression (patterns are CEL rules with a message), no "<nil>:" or anyOf beyond what
// the API server itself adds (listed below, and pinned by the golden).
func TestAdmissionMessages(t *testing.T) {
	cases := []struct{ name, manifest string }{
		{"alias with a space", `
kind: MultipathWWID
metadata: {name: bad-alias}
spec: {wwid: 3600a098038303053453f463045727a4d, alias: "has space"}`},
		{"alias like a user_friendly_names name", `
kind: MultipathWWID
metadata: {name: mpath-alias}
spec: {wwid: 3600a098038303053453f463045727a4d, alias: mpatha}`},
		{"wwid with a slash", `
kind: MultipathWWID
metadata: {name: bad-wwid}
spec: {wwid: "3600a0/98"}`},
		{"noPathRetry out of range", `
kind: MultipathWWID
metadata: {name: bad-retry}
spec: {wwid: 3600a098038303053453f463045727a4d, noPathRetry: 0}`},
		{"noPathRetry keyword misspelt", `
kind: MultipathWWID
metadata: {name: bad-retry-word}
spec: {wwid: 3600a098038303053453f463045727a4d, noPathRetry: queued}`},
		{"path grouping policy unknown", `
kind: MultipathWWID
metadata: {name: bad-pgp}
spec: {wwid: 3600a098038303053453f463045727a4d, pathGroupingPolicy: by_prio}`},
		{"reservation key not hex", `
kind: MultipathWWID
metadata: {name: bad-key}
spec: {wwid: 3600a098038303053453f463045727a4d, reservationKey: 0xZZ}`},
		{"prioArgs with a newline", `
kind: MultipathWWID
metadata: {name: bad-prio-args}
spec: {wwid: 3600a098038303053453f463045727a4d, prioArgs: "a\nb"}`},
		{"noPathRetry given as a boolean", `
kind: MultipathWWID
metadata: {name: bool-retry}
spec: {wwid: 3600a098038303053453f463045727a4d, noPathRetry: true}`},
		{"alias longer than 64", `
kind: MultipathWWID
metadata: {name: long-alias}
spec: {wwid: 3600a098038303053453f463045727a4d, alias: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}`},
		{"config not named cluster", `
kind: MultipathConfig
metadata: {name: prod}
spec: {}`},
		{"maxUnavailable zero percent", `
kind: MultipathConfig
metadata: {name: cluster}
spec: {rollout: {maxUnavailable: "0%"}}`},
		{"pollingInterval zero", `
kind: MultipathConfig
metadata: {name: cluster}
spec: {defaults: {pollingInterval: 0}}`},
	}
	var b strings.Builder
	for _, tc := range cases {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte("apiVersion: multipath.kube-multipath.io/v1alpha1"+tc.manifest), &u.Object); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err := env.Client.Create(context.Background(), u, client.DryRunAll)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		msg := err.Error()
		b.WriteString("# " + tc.name + "\n" + msg + "\n\n")
		// What the API server adds on its own and no CRD can change: after a blocking schema
		// error (enum, type, length, required) it skips CEL and says so at the root, and a rule
		// on the whole object (the singleton's) is reported at the root too. An int-or-string
		// given another type gets the anyOf of x-kubernetes-int-or-string.
		rest := msg
		for _, known := range []string{
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
			"<nil>: Invalid value: MultipathConfig is a singleton",
		} {
			rest = strings.ReplaceAll(rest, known, "")
		}
		if tc.name == "noPathRetry given as a boolean" {
			continue
		}
		for _, noise := range []*regexp.Regexp{
			regexp.MustCompile(`<nil>`),
			regexp.MustCompile(`should match '`),
			regexp.MustCompile(`anyOf|oneOf`),
			regexp.MustCompile(`\\x[0-9a-f]{2}`),
		} {
			if noise.MatchString(rest) {
				t.Errorf("%s: the message holds %q:\n%s", tc.name, noise, msg)
			}
		}
	}
	path := filepath.Join("testdata", "admission-messages.golden")
	if os.Getenv("UPDATE_GOLDEN") == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=true to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("admission messages differ from %s (UPDATE_GOLDEN=true rewrites it; review the diff):\n%s", path, b.String())
	}
}
