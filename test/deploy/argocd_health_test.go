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
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var healthKinds = []string{"MultipathConfig", "MultipathWWID", "MultipathNodeState"}

// runHealth runs an Argo CD health script the way Argo CD does: obj is a global Lua table built
// from the object's JSON form and the chunk returns a table with status and message.
func runHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("running the health script: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health script returned %s, not a table", L.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

// toLua converts a JSON-shaped Go value into Lua values: objects and arrays become tables
// (arrays 1-based), numbers become LNumber.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	default:
		panic("toLua: unsupported type")
	}
}

func cond(typ, st, reason, msg string) map[string]any {
	return map[string]any{"type": typ, "status": st, "reason": reason, "message": msg,
		"lastTransitionTime": "2026-01-01T00:00:00Z"}
}

// fixture is an object of kind with metadata.generation gen; observed < 0 leaves
// status.observedGeneration out; status is left out when both it and conds are empty.
func fixture(kind string, gen, observed int64, conds ...map[string]any) map[string]any {
	obj := map[string]any{
		"apiVersion": "multipath.kube-multipath.io/v1alpha1",
		"kind":       kind,
		"metadata":   map[string]any{"name": "cluster", "generation": gen},
	}
	st := map[string]any{}
	if observed >= 0 {
		st["observedGeneration"] = observed
	}
	if len(conds) > 0 {
		cs := make([]any, len(conds))
		for i, c := range conds {
			cs[i] = c
		}
		st["conditions"] = cs
	}
	if len(st) > 0 {
		obj["status"] = st
	}
	// Round-trip through JSON the way client-go decodes unstructured objects (integers as int64),
	// so both evaluators see what a client reading the API server sees.
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	out := map[string]any{}
	if err := utiljson.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// kstatusOf is the Argo CD health status kstatus would agree with.
var kstatusOf = map[string]status.Status{
	"Healthy":     status.CurrentStatus,
	"Progressing": status.InProgressStatus,
	"Degraded":    status.FailedStatus,
}

// scriptFile is the Lua file of a kind: MultipathConfig and MultipathWWID share kstatus.lua;
// MultipathNodeState also reads the agent's Degraded condition.
func scriptFile(kind string) string {
	if kind == "MultipathNodeState" {
		return "MultipathNodeState.lua"
	}
	return "kstatus.lua"
}

func TestArgoCDHealth(t *testing.T) {
	scripts := map[string]string{}
	for _, k := range healthKinds {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "argocd", scriptFile(k)))
		if err != nil {
			t.Fatal(err)
		}
		scripts[k] = string(b)
	}

	type tc struct {
		kinds   []string // nil: every kind
		obj     func(kind string) map[string]any
		health  string
		message string // substring of hs.message
		// kstatus, when set, is what status.Compute returns where it knowingly differs from
		// the Lua check; why says why.
		kstatus status.Status
		why     string
	}
	cases := map[string]tc{
		"a Ready object whose generation is observed is Healthy": {
			obj: func(k string) map[string]any {
				return fixture(k, 3, 3, cond("Ready", "True", "Rendered", "rendered and rolled out"))
			},
			health: "Healthy", message: "rendered and rolled out",
		},
		"a Ready object whose newer generation is not observed yet is Progressing": {
			obj: func(k string) map[string]any {
				return fixture(k, 4, 3, cond("Ready", "True", "Rendered", "rendered"))
			},
			health: "Progressing", message: "generation 4",
		},
		"a Stalled object is Degraded with the Stalled message": {
			obj: func(k string) map[string]any {
				return fixture(k, 2, 2,
					cond("Ready", "False", "InvalidSpec", "spec cannot be rendered"),
					cond("Stalled", "True", "InvalidSpec", "spec.defaults.path_selector: unknown selector"))
			},
			health: "Degraded", message: "unknown selector",
		},
		"a Stalled object whose newer generation is not observed is Progressing, not Degraded": {
			obj: func(k string) map[string]any {
				return fixture(k, 3, 2, cond("Stalled", "True", "InvalidSpec", "bad"))
			},
			health: "Progressing", message: "generation 3",
		},
		"a Reconciling object is Progressing with the Reconciling message": {
			obj: func(k string) map[string]any {
				return fixture(k, 1, 1,
					cond("Ready", "False", "RolloutInProgress", "2 of 5 nodes applied"),
					cond("Reconciling", "True", "RolloutInProgress", "2 of 5 nodes applied"))
			},
			health: "Progressing", message: "2 of 5 nodes applied",
		},
		"an object with Ready False and nothing else is Progressing": {
			obj: func(k string) map[string]any {
				return fixture(k, 1, 1, cond("Ready", "False", "RolloutPaused", "paused"))
			},
			health: "Progressing", message: "Waiting for the controller",
		},
		"an object the controller has not touched yet is Progressing": {
			obj:    func(k string) map[string]any { return fixture(k, 1, -1) },
			health: "Progressing", message: "Waiting for the controller",
			kstatus: status.CurrentStatus,
			why:     "kstatus treats an object without status or conditions as Current; Argo CD should wait",
		},
		"a node state whose last apply was rolled back is Degraded": {
			kinds: []string{"MultipathNodeState"},
			obj: func(k string) map[string]any {
				return fixture(k, 5, 5,
					cond("Ready", "False", "ApplyFailed", "multipathd reconfigure failed; rolled back"),
					cond("Degraded", "True", "ApplyFailed", "multipathd reconfigure failed; rolled back"))
			},
			health: "Degraded", message: "rolled back",
			kstatus: status.InProgressStatus,
			why:     "kstatus does not know the Degraded condition: it sees Ready=False, so Flux keeps waiting until its timeout",
		},
		"a Degraded condition on a config is not a health signal": {
			kinds: []string{"MultipathConfig", "MultipathWWID"},
			obj: func(k string) map[string]any {
				return fixture(k, 1, 1,
					cond("Ready", "True", "Rendered", "rendered"),
					cond("Degraded", "True", "Whatever", "not ours"))
			},
			health: "Healthy", message: "rendered",
		},
	}
	for name, c := range cases {
		kinds := c.kinds
		if kinds == nil {
			kinds = healthKinds
		}
		for _, kind := range kinds {
			t.Run(name+"/"+kind, func(t *testing.T) {
				obj := c.obj(kind)
				health, msg := runHealth(t, scripts[kind], obj)
				if health != c.health || !strings.Contains(msg, c.message) {
					t.Errorf("Argo CD health = %s %q, want %s containing %q", health, msg, c.health, c.message)
				}
				res, err := status.Compute(&unstructured.Unstructured{Object: obj})
				if err != nil {
					t.Fatalf("kstatus: %v", err)
				}
				want := kstatusOf[c.health]
				if c.kstatus != "" {
					want = c.kstatus
				}
				if res.Status != want {
					t.Errorf("kstatus = %s (%s), want %s %s", res.Status, res.Message, want, c.why)
				}
			})
		}
	}
}

// TestArgoCDConfigMapPatch checks that argocd-cm-patch.yaml carries each .lua file verbatim under
// Argo CD's key resource.customizations.health.<group>_<kind>.
func TestArgoCDConfigMapPatch(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "argocd")
	b, err := os.ReadFile(filepath.Join(dir, "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || len(cm.Data) != len(healthKinds) {
		t.Fatalf("argocd-cm-patch.yaml: kind %q with %d keys, want a ConfigMap with %d", cm.Kind, len(cm.Data), len(healthKinds))
	}
	for _, k := range healthKinds {
		script, err := os.ReadFile(filepath.Join(dir, scriptFile(k)))
		if err != nil {
			t.Fatal(err)
		}
		key := "resource.customizations.health.multipath.kube-multipath.io_" + k
		if cm.Data[key] != string(script) {
			t.Errorf("%s in argocd-cm-patch.yaml differs from %s", key, scriptFile(k))
		}
	}
}
