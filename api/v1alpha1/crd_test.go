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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

const apiVersion = "multipath.kube-multipath.io/v1alpha1"

func obj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
	}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// lun is a MultipathWWID with a valid WWID and the given extra spec fields.
func lun(extra map[string]any) *unstructured.Unstructured {
	spec := map[string]any{"wwid": "3600a098038303053453f463045727a4d"}
	for k, v := range extra {
		spec[k] = v
	}
	return obj("MultipathWWID", "lun-under-test", spec)
}

// config is the MultipathConfig `cluster` with the given spec.defaults fields.
func config(defaults map[string]any) *unstructured.Unstructured {
	return obj("MultipathConfig", "cluster", map[string]any{"defaults": defaults})
}

func TestCRDsAreEstablished(t *testing.T) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(env.Config)
	resources, err := dc.ServerResourcesForGroupVersion(apiVersion)
	if err != nil {
		t.Fatalf("discovery of %s: %v", apiVersion, err)
	}
	want := map[string]bool{"multipathconfigs": false, "multipathwwids": false, "multipathnodestates": false}
	for _, r := range resources.APIResources {
		if _, ok := want[r.Name]; ok {
			want[r.Name] = true
			if r.Namespaced {
				t.Errorf("%s is namespaced, want cluster-scoped", r.Name)
			}
			if !contains(r.Categories, "multipath") {
				t.Errorf("%s categories = %v, want multipath among them", r.Name, r.Categories)
			}
			if len(r.ShortNames) == 0 {
				t.Errorf("%s has no short name", r.Name)
			}
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("resource %s not served", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSamplesAreAccepted creates every object under config/samples on the real API server.
func TestSamplesAreAccepted(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	created := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if err := env.Client.Create(ctx, u); err != nil {
				t.Errorf("%s: %s/%s rejected: %v", filepath.Base(f), u.GetKind(), u.GetName(), err)
				continue
			}
			created++
			t.Cleanup(func() { _ = env.Client.Delete(ctx, u) })
		}
	}
	if created < 3 {
		t.Errorf("created %d sample objects, want at least 3", created)
	}
}

// TestDefaultsReadBack checks that an accepted object reads back with the schema's defaults and
// with every value as it was written.
func TestDefaultsReadBack(t *testing.T) {
	ctx := context.Background()
	u := obj("MultipathConfig", "cluster", map[string]any{"defaults": map[string]any{"noPathRetry": "queue", "devLossTmo": 600, "detectPrio": true}})
	if err := env.Client.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, u) })
	got := &mpv1alpha1.MultipathConfig{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "cluster"}, got); err != nil {
		t.Fatal(err)
	}
	if mu := got.Spec.Rollout.MaxUnavailable; mu == nil || mu.String() != "1" {
		t.Errorf("spec.rollout.maxUnavailable = %v, want the default 1", mu)
	}
	if got.Spec.Rollout.Paused {
		t.Errorf("spec.rollout.paused = true, want false")
	}
	d := got.Spec.Defaults
	if d.NoPathRetry == nil || d.NoPathRetry.String() != "queue" {
		t.Errorf("noPathRetry = %v, want queue", d.NoPathRetry)
	}
	if d.DevLossTmo == nil || d.DevLossTmo.IntValue() != 600 {
		t.Errorf("devLossTmo = %v, want 600", d.DevLossTmo)
	}
	if d.DetectPrio == nil || !*d.DetectPrio {
		t.Errorf("detectPrio = %v, want true", d.DetectPrio)
	}
}

// TestExplain checks that the published OpenAPI v3 document, which `kubectl explain` reads,
// carries the field descriptions.
func TestExplain(t *testing.T) {
	dc := discovery.NewDiscoveryClientForConfigOrDie(env.Config)
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	gv, ok := paths["apis/multipath.kube-multipath.io/v1alpha1"]
	if !ok {
		t.Fatalf("no OpenAPI v3 document for %s", apiVersion)
	}
	raw, err := gv.Schema("application/json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
					Properties  map[string]struct {
						Description string `json:"description"`
					} `json:"properties"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s, ok := doc.Components.Schemas["io.kube-multipath.multipath.v1alpha1.MultipathWWID"]
	if !ok {
		t.Fatalf("MultipathWWID schema not published")
	}
	spec := s.Properties["spec"]
	for field, want := range map[string]string{
		"wwid":        "World Wide Identifier",
		"alias":       "stable device-mapper name",
		"noPathRetry": "every path is down",
	} {
		if got := spec.Properties[field].Description; !strings.Contains(got, want) {
			t.Errorf("explain multipathwwid.spec.%s = %q, want it to mention %q", field, got, want)
		}
	}
}

// TestInvalidObjectsAreRejected sends objects the API server must refuse on its own (OpenAPI
// schema and CEL in the CRDs), without the operator running, and checks that each error names
// the offending field.
func TestInvalidObjectsAreRejected(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := map[string]struct {
		obj   *unstructured.Unstructured
		field string // the field path the error must name
		rule  string // a fragment of the rule the error must state
	}{
		"a MultipathConfig not named cluster":          {obj("MultipathConfig", "prod", nil), "", "metadata.name must be cluster"},
		"a MultipathWWID without a wwid":               {obj("MultipathWWID", "lun-under-test", map[string]any{}), "spec.wwid", "Required"},
		"a MultipathWWID without a spec":               {obj("MultipathWWID", "lun-under-test", nil), "spec", "Required"},
		"a wwid with a space":                          {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": "3600a 0980"}), "spec.wwid", "wwid may contain only letters"},
		"a wwid with a slash":                          {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": "3600/0980"}), "spec.wwid", "wwid may contain only letters"},
		"a wwid with a quote":                          {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": `36"00`}), "spec.wwid", "wwid may contain only letters"},
		"a wwid with a newline":                        {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": "3600\nalias x"}), "spec.wwid", "wwid may contain only letters"},
		"an empty wwid":                                {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": ""}), "spec.wwid", "at least 1"},
		"a wwid longer than 128":                       {obj("MultipathWWID", "lun-under-test", map[string]any{"wwid": long(129)}), "spec.wwid", "128"},
		"an empty alias":                               {lun(map[string]any{"alias": ""}), "spec.alias", "at least 1"},
		"an alias longer than 64":                      {lun(map[string]any{"alias": long(65)}), "spec.alias", "64"},
		"an alias with a space":                        {lun(map[string]any{"alias": "ora data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a tab":                          {lun(map[string]any{"alias": "ora\tdata"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a double quote":                 {lun(map[string]any{"alias": `ora"data`}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a single quote":                 {lun(map[string]any{"alias": "ora'data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a hash":                         {lun(map[string]any{"alias": "ora#data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a bang":                         {lun(map[string]any{"alias": "ora!data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a slash":                        {lun(map[string]any{"alias": "ora/data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a backslash":                    {lun(map[string]any{"alias": `ora\data`}), "spec.alias", "alias must not hold whitespace"},
		"an alias with a control character":            {lun(map[string]any{"alias": "ora\x01data"}), "spec.alias", "alias must not hold whitespace"},
		"an alias that looks like user_friendly_names": {lun(map[string]any{"alias": "mpathb"}), "spec.alias", "user_friendly_names"},
		"an alias of dot-dot":                          {lun(map[string]any{"alias": ".."}), "spec.alias", "reserved names"},
		"an alias of control":                          {lun(map[string]any{"alias": "control"}), "spec.alias", "reserved names"},
		"an unknown path grouping policy":              {lun(map[string]any{"pathGroupingPolicy": "round_robin"}), "spec.pathGroupingPolicy", "Unsupported value"},
		"an unknown path selector":                     {lun(map[string]any{"pathSelector": "service-time"}), "spec.pathSelector", "Unsupported value"},
		"an unknown prioritizer":                       {lun(map[string]any{"prio": "fastest"}), "spec.prio", "Unsupported value"},
		"an unknown rr weight":                         {lun(map[string]any{"rrWeight": "heavy"}), "spec.rrWeight", "Unsupported value"},
		"a noPathRetry keyword it does not know":       {lun(map[string]any{"noPathRetry": "forever"}), "spec.noPathRetry", "noPathRetry must be queue, fail"},
		"a noPathRetry of zero":                        {lun(map[string]any{"noPathRetry": 0}), "spec.noPathRetry", "from 1 to 1000000"},
		"a noPathRetry given as a boolean":             {lun(map[string]any{"noPathRetry": true}), "spec.noPathRetry", "must be of type"},
		"a failback keyword it does not know":          {lun(map[string]any{"failback": "later"}), "spec.failback", "failback must be immediate"},
		"a negative failback":                          {lun(map[string]any{"failback": -5}), "spec.failback", "from 1 to 86400"},
		"an rrMinIORq of zero":                         {lun(map[string]any{"rrMinIORq": 0}), "spec.rrMinIORq", "greater than or equal to 1"},
		"an rrMinIORq given as a string":               {lun(map[string]any{"rrMinIORq": "ten"}), "spec.rrMinIORq", "must be of type integer"},
		"a malformed reservation key":                  {lun(map[string]any{"reservationKey": "0xZZ"}), "spec.reservationKey", "reservationKey must be file, or 0x"},
		"prioArgs with a newline":                      {lun(map[string]any{"prioArgs": "a\nb"}), "spec.prioArgs", "prioArgs must not hold control characters"},
		"prioArgs longer than 255":                     {lun(map[string]any{"prioArgs": long(256)}), "spec.prioArgs", "255"},
		"a flushOnLastDel given as a string":           {lun(map[string]any{"flushOnLastDel": "maybe"}), "spec.flushOnLastDel", "must be of type boolean"},
		"a ghostDelay keyword it does not know":        {lun(map[string]any{"ghostDelay": "off"}), "spec.ghostDelay", "ghostDelay must be no"},
		"a marginal sample time below 120":             {lun(map[string]any{"marginalPathErrSampleTime": 60}), "spec.marginalPathErrSampleTime", "from 120"},
		"maxSectorsKB below 4":                         {lun(map[string]any{"maxSectorsKB": 2}), "spec.maxSectorsKB", "greater than or equal to 4"},
		"a path checker on a LUN (defaults only)":      {lun(map[string]any{"pathChecker": "tur"}), "spec.pathChecker", "unknown field"},
		"devLossTmo on a LUN (defaults only)":          {lun(map[string]any{"devLossTmo": 60}), "spec.devLossTmo", "unknown field"},
		"user_friendly_names on a LUN":                 {lun(map[string]any{"userFriendlyNames": true}), "spec.userFriendlyNames", "unknown field"},
		"a pollingInterval of zero":                    {config(map[string]any{"pollingInterval": 0}), "spec.defaults.pollingInterval", "greater than or equal to 1"},
		"a pollingInterval above an hour":              {config(map[string]any{"pollingInterval": 3601}), "spec.defaults.pollingInterval", "less than or equal to 3600"},
		"an unknown path checker":                      {config(map[string]any{"pathChecker": "ping"}), "spec.defaults.pathChecker", "Unsupported value"},
		"a fastIOFailTmo keyword it does not know":     {config(map[string]any{"fastIOFailTmo": "never"}), "spec.defaults.fastIOFailTmo", "fastIOFailTmo must be off"},
		"a devLossTmo keyword it does not know":        {config(map[string]any{"devLossTmo": "forever"}), "spec.defaults.devLossTmo", "devLossTmo must be infinity"},
		"a devLossTmo of zero":                         {config(map[string]any{"devLossTmo": 0}), "spec.defaults.devLossTmo", "from 1 to 2147483646"},
		"a verbosity of 5 (0.9.4 caps it at 4)":        {config(map[string]any{"verbosity": 5}), "spec.defaults.verbosity", "less than or equal to 4"},
		"an unknown logCheckerErr":                     {config(map[string]any{"logCheckerErr": "sometimes"}), "spec.defaults.logCheckerErr", "Unsupported value"},
		"user_friendly_names in defaults":              {config(map[string]any{"userFriendlyNames": true}), "spec.defaults.userFriendlyNames", "unknown field"},
		"find_multipaths in defaults":                  {config(map[string]any{"findMultipaths": "smart"}), "spec.defaults.findMultipaths", "unknown field"},
		"overrides longer than 128 KiB":                {obj("MultipathConfig", "cluster", map[string]any{"overrides": long(131073)}), "spec.overrides", "131072"},
		"a maxUnavailable of zero":                     {obj("MultipathConfig", "cluster", map[string]any{"rollout": map[string]any{"maxUnavailable": 0}}), "spec.rollout.maxUnavailable", "at least 1"},
		"a maxUnavailable of 0%":                       {obj("MultipathConfig", "cluster", map[string]any{"rollout": map[string]any{"maxUnavailable": "0%"}}), "spec.rollout.maxUnavailable", "from 1% to 100%"},
		"a maxUnavailable of 150%":                     {obj("MultipathConfig", "cluster", map[string]any{"rollout": map[string]any{"maxUnavailable": "150%"}}), "spec.rollout.maxUnavailable", "from 1% to 100%"},
		"a maxUnavailable that is a word":              {obj("MultipathConfig", "cluster", map[string]any{"rollout": map[string]any{"maxUnavailable": "half"}}), "spec.rollout.maxUnavailable", "from 1% to 100%"},
		"a paused given as a string":                   {obj("MultipathConfig", "cluster", map[string]any{"rollout": map[string]any{"paused": "yes"}}), "spec.rollout.paused", "must be of type boolean"},
		"a node selector with a bad operator": {obj("MultipathConfig", "cluster", map[string]any{"nodeSelector": map[string]any{
			"matchExpressions": []any{map[string]any{"key": "a", "operator": 7}}}}), "spec.nodeSelector.matchExpressions[0].operator", "must be of type string"},
	}
	ctx := context.Background()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Strict field validation is what kubectl apply asks for by default.
			err := env.Client.Create(ctx, tc.obj, client.DryRunAll, client.FieldValidation("Strict"))
			if err == nil {
				t.Fatalf("accepted, want rejected naming %q", tc.field)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("error %v is not an Invalid or BadRequest error", err)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.rule) {
				t.Errorf("error %q\nwant it to name field %q and rule %q", err.Error(), tc.field, tc.rule)
			}
		})
	}
}

// TestWWIDIsImmutable changes a stored wwid.
func TestWWIDIsImmutable(t *testing.T) {
	ctx := context.Background()
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "immutable-wwid"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0980aaaa"}}
	if err := env.Client.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, w) })
	w.Spec.WWID = "3600a0980bbbb"
	err := env.Client.Update(ctx, w)
	if err == nil || !strings.Contains(err.Error(), "spec.wwid") || !strings.Contains(err.Error(), "wwid is immutable") {
		t.Fatalf("update of spec.wwid: got %v, want an error naming spec.wwid and 'wwid is immutable'", err)
	}
	w.Spec.WWID = "3600a0980aaaa"
	w.Spec.Alias = "renamed-is-fine"
	if err := env.Client.Update(ctx, w); err != nil {
		t.Fatalf("changing the alias only: %v", err)
	}
}
