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

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// simulatedNode is one SIMULATED node: a Node object, a host root in a temporary folder, a fake
// multipathd serving recorded `show maps json` output rewritten to the sample WWIDs, and the
// real agent binary running against them. No device is touched on this machine.
type simulatedNode struct {
	name     string
	hostRoot string
	daemon   *multipathdtest.FakeDaemon
	// fixture is the recorded output whose first map stands for the sample LUN oradata01.
	fixture string
}

const sampleWWID, sampleAlias = "3600a098038303053453f463045727a4d", "oradata01"

// mapsJSON rewrites a recorded `show maps json` so that its first map is the sample LUN.
func mapsJSON(fixture string) (string, error) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "internal", "multipathd", "testdata", fixture))
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", err
	}
	maps, _ := doc["maps"].([]any)
	if len(maps) == 0 {
		return "", fmt.Errorf("%s holds no map", fixture)
	}
	first := maps[0].(map[string]any)
	first["uuid"], first["name"] = sampleWWID, sampleAlias
	doc["maps"] = maps[:1]
	out, err := json.Marshal(doc)
	return string(out), err
}

// startAgents makes each simulated node Ready, starts its fake multipathd and runs the real
// agent binary for it. The returned function stops them.
func startAgents(ctx context.Context, c client.Client, dir, kubeconfig string, nodes []simulatedNode) (func(), error) {
	bin := filepath.Join(dir, "agent")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/agent")
	build.Dir = testenv.RepoRoot()
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the agent: %w", err)
	}
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	// The real multipath-tools parser validates every candidate when this machine can run it
	// (root, multipath installed); otherwise the agent records that validation was skipped.
	_, lookErr := exec.LookPath("multipath")
	validate := os.Geteuid() == 0 && lookErr == nil
	for i := range nodes {
		n := &nodes[i]
		node := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: n.name}, node); err != nil {
			stop()
			return nil, err
		}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "Simulated", LastHeartbeatTime: metav1.Now()}}
		if err := c.Status().Update(ctx, node); err != nil {
			stop()
			return nil, err
		}
		n.hostRoot = filepath.Join(dir, n.name, "host")
		if err := os.MkdirAll(filepath.Join(n.hostRoot, "etc", "multipath", "conf.d"), 0o755); err != nil {
			stop()
			return nil, err
		}
		body, err := mapsJSON(n.fixture)
		if err != nil {
			stop()
			return nil, err
		}
		d, err := multipathdtest.Start()
		if err != nil {
			stop()
			return nil, err
		}
		d.SetReply("show maps json", multipathdtest.Reply{Body: body})
		n.daemon = d
		stops = append(stops, func() { _ = d.Close() })

		args := []string{
			"--node-name=" + n.name, "--host-root=" + n.hostRoot, "--namespace=" + namespace,
			"--multipathd-socket=" + d.Address(), "--refresh-interval=5s", "--settle-delay=100ms",
			"--metrics-bind-address=0", "--health-probe-bind-address=0", "--uevents=false",
			fmt.Sprintf("--validate=%t", validate), "--parser-root=/",
		}
		logFile, err := os.Create(filepath.Join(dir, n.name, "agent.log"))
		if err != nil {
			stop()
			return nil, err
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("starting the agent of %s: %w", n.name, err)
		}
		stops = append(stops, func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
			_ = logFile.Close()
		})
	}
	return stop, nil
}

// describeNodes says where each simulated node's files are.
func describeNodes(nodes []simulatedNode) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %s: %s (fake multipathd serving %s; agent log %s)\n", n.name,
			filepath.Join(n.hostRoot, "etc", "multipath", "conf.d"), n.fixture, filepath.Join(filepath.Dir(n.hostRoot), "agent.log"))
	}
	return b.String()
}
