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
	"github.com/kube-multipath/kube-multipath/internal/testing/realdaemon"
)

// simulatedNode is one simulated node: a Node object, a host root in a temporary folder, a
// multipathd and the real agent binary running against them. The multipathd is the real one
// (with the test shim of internal/testing/realdaemon: it parses and reconfigures, but has no
// paths and no maps) on the node that asks for it when this machine can run it, else a fake
// serving recorded `show maps json` output rewritten to the sample WWIDs. No device is touched
// on this machine.
type simulatedNode struct {
	name     string
	hostRoot string
	// logDir holds the node's agent and multipathd logs, kept after the run.
	logDir string
	// fixture is the recorded output whose first map stands for the sample LUN oradata01,
	// served by the fake multipathd.
	fixture string
	// realDaemon asks for the real multipathd on this node.
	realDaemon bool

	// daemonLabel says which multipathd the node runs: labelReal or labelFake.
	daemonLabel string
	// daemonAddress is the multipathd socket the agent talks to.
	daemonAddress string
	// whyFake says why a node that asked for the real multipathd runs the fake one.
	whyFake string
	fake    *multipathdtest.FakeDaemon
	real    *realdaemon.Daemon
}

const (
	labelReal = "real multipathd (test shim, no SAN devices)"
	labelFake = "SIMULATED (fake multipathd)"
)

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

// startAgents makes each simulated node Ready, starts its multipathd and runs the real agent
// binary for it. The returned function stops them.
func startAgents(ctx context.Context, c client.Client, dir, logDir, kubeconfig string, nodes []simulatedNode) (func(), error) {
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
		n.logDir = logDir
		if err := startDaemon(dir, n); err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, n.stopDaemon)

		args := []string{
			"--node-name=" + n.name, "--host-root=" + n.hostRoot, "--namespace=" + namespace,
			"--multipathd-socket=" + n.daemonAddress, "--refresh-interval=5s", "--settle-delay=100ms",
			"--metrics-bind-address=0", "--health-probe-bind-address=0", "--uevents=false",
			fmt.Sprintf("--validate=%t", validate), "--parser-root=/",
		}
		logFile, err := os.Create(n.agentLog())
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

// startDaemon starts the node's multipathd: the real one when the node asks for it and this
// machine can run it (realdaemon.Available: root, multipathd, gcc), else the fake.
func startDaemon(dir string, n *simulatedNode) error {
	if n.realDaemon {
		err := realdaemon.Available()
		if err == nil {
			err = startRealDaemon(dir, n)
		}
		if err == nil {
			return nil
		}
		n.whyFake = fmt.Sprintf("the real multipathd cannot run here: %v", err)
	}
	body, err := mapsJSON(n.fixture)
	if err != nil {
		return err
	}
	d, err := multipathdtest.Start()
	if err != nil {
		return err
	}
	d.SetReply("show maps json", multipathdtest.Reply{Body: body})
	n.fake, n.daemonAddress, n.daemonLabel = d, d.Address(), labelFake
	return nil
}

// startRealDaemon runs multipathd on the node's host root /etc/multipath, socket-activated on
// an abstract socket of this process's network namespace, logging to <node>.multipathd.log.
func startRealDaemon(dir string, n *simulatedNode) error {
	work := filepath.Join(dir, n.name, "multipathd")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(n.multipathdLog())
	if err != nil {
		return err
	}
	d, err := realdaemon.Run(filepath.Join(n.hostRoot, "etc", "multipath"), realdaemon.Options{
		Address: fmt.Sprintf("@kube-multipath-run/%d/%s", os.Getpid(), n.name),
		Dir:     work,
		Output:  logFile,
	})
	if err != nil {
		_ = logFile.Close()
		return err
	}
	go func() { <-d.Exited(); _ = logFile.Close() }()
	n.real, n.daemonAddress, n.daemonLabel = d, d.Address(), labelReal
	return nil
}

func (n *simulatedNode) stopDaemon() {
	if n.fake != nil {
		_ = n.fake.Close()
	}
	if n.real != nil {
		_ = n.real.Close()
	}
}

// describeDaemons says which multipathd each node runs.
func describeDaemons(nodes []simulatedNode) string {
	var b strings.Builder
	for _, n := range nodes {
		switch {
		case n.real != nil:
			fmt.Fprintf(&b, "  %s: %s, socket %s\n", n.name, n.daemonLabel, n.daemonAddress)
		case n.whyFake != "":
			fmt.Fprintf(&b, "  %s: %s serving %s (%s)\n", n.name, n.daemonLabel, n.fixture, n.whyFake)
		default:
			fmt.Fprintf(&b, "  %s: %s serving %s\n", n.name, n.daemonLabel, n.fixture)
		}
	}
	return b.String()
}

// describeNodes says where each node's files are.
func describeNodes(nodes []simulatedNode) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %s [%s]: %s\n", n.name, n.daemonLabel, filepath.Join(n.hostRoot, "etc", "multipath", "conf.d"))
	}
	return b.String()
}

func (n *simulatedNode) agentLog() string { return filepath.Join(n.logDir, n.name+".agent.log") }

func (n *simulatedNode) multipathdLog() string {
	return filepath.Join(n.logDir, n.name+".multipathd.log")
}

// describeLogs lists the log files of a run, the manager's first.
func describeLogs(logDir string) string {
	files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	names := []string{"manager.log"}
	for _, f := range files {
		if b := filepath.Base(f); b != "manager.log" {
			names = append(names, b)
		}
	}
	return filepath.Join(logDir, "{"+strings.Join(names, ",")+"}")
}
