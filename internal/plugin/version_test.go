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

package plugin

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClientVersion(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "503ecbf0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := buildInfoVersion(info), "v0.4.0 (commit 503ecbf01234, modified)"; got != want {
		t.Errorf("buildInfoVersion = %q, want %q", got, want)
	}
	if got := buildInfoVersion(&debug.BuildInfo{}); got != "(devel)" {
		t.Errorf("no module version: %q", got)
	}
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9"
	if got := ClientVersion(); got != "v9.9.9" {
		t.Errorf("the version set at build time wins: %q", got)
	}
}

func TestVersionOnACluster(t *testing.T) {
	ctx := t.Context()
	labels := map[string]string{"app": "kube-multipath-manager"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: managerDeployment, Namespace: defaultOperatorNamespace},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "example.test/kube-multipath-manager:v0.4.0"}}}}}}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), d) })

	out, err := runCLI(t, time.Now(), "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kubectl-multipath: ",
		"manager:           image example.test/kube-multipath-manager:v0.4.0 (Deployment kube-multipath-system/kube-multipath-manager)\n",
		"agent:             not read: DaemonSet kube-multipath-system/kube-multipath-agent: not found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, time.Now(), "version", "--client", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r VersionReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Client == "" || r.Manager != nil {
		t.Errorf("--client -o json = %+v (%v):\n%s", r, err, out)
	}
}
