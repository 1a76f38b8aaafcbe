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
	"fmt"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// DeployedEnv returns the literal environment variables (name=value) that a workload manifest
// under config/ gives its first container, so that processes started here run as deployed
// (GOMEMLIMIT in particular).
func DeployedEnv(manifest string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), manifest))
	if err != nil {
		return nil, err
	}
	// The manifest may hold several documents; a DaemonSet's pod template is at the same path
	// as a Deployment's.
	var w *appsv1.Deployment
	for _, doc := range strings.Split(string(data), "\n---") {
		d := &appsv1.Deployment{}
		if err := yaml.Unmarshal([]byte(doc), d); err != nil {
			return nil, fmt.Errorf("%s: %w", manifest, err)
		}
		if (d.Kind == "Deployment" || d.Kind == "DaemonSet") && len(d.Spec.Template.Spec.Containers) > 0 {
			w = d
			break
		}
	}
	if w == nil {
		return nil, fmt.Errorf("%s holds no Deployment or DaemonSet with a container", manifest)
	}
	var env []string
	for _, e := range w.Spec.Template.Spec.Containers[0].Env {
		if e.Value != "" {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return env, nil
}
