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

// Command localrun is `make run` without a KUBECONFIG: it starts a local control plane (the
// envtest kube-apiserver and etcd built by hack/envtest.sh), installs the CRDs, runs the manager
// against it, applies config/samples, runs the real agent binary for three simulated nodes, each
// with a host root in a temporary folder: san-node-1 and san-node-2 with a fake multipathd
// serving recorded maps, san-node-3 with the real multipathd and the test shim of
// internal/testing/realdaemon (no paths, no maps; it parses and reconfigures) when this machine
// can run it, else a fake one too. It prints which daemon each node runs, the health matrix,
// where each node's files are and the kubeconfig path, and runs until interrupted.
//
// Ctrl-C stops it cleanly, even through a pipe whose reader died with it (`make run | tee`):
// SIGPIPE is ignored so the shutdown is never cut short, the control plane (its own process
// group, which the terminal's SIGINT does not reach) and the agents are stopped, and the
// temporary folder is removed. Logs go to files under bin/run/, kept after the run.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	managerapp "github.com/kube-multipath/kube-multipath/cmd/manager/app"
	"github.com/kube-multipath/kube-multipath/internal/plugin"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

const namespace = "kube-multipath-system"

func main() {
	// A write to a pipe whose reader is gone (tee, killed by the same Ctrl-C) must fail, not
	// kill this process halfway through stopping the control plane.
	signal.Ignore(syscall.SIGPIPE)
	logDir := filepath.Join(testenv.RepoRoot(), "bin", "run")
	logFile, err := openLogs(logDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logFile)))
	ctx := signalContext(os.Stdout)
	err = run(ctx, os.Stdout, "127.0.0.1:8443", "127.0.0.1:8081", logDir, nil)
	_ = logFile.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

// openLogs empties dir (the previous run's logs) and opens the manager's log in it.
func openLogs(dir string) (*os.File, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(dir, "manager.log"))
}

// signalContext ends on the first SIGINT or SIGTERM. Later ones are only acknowledged: exiting
// then (as ctrl.SetupSignalHandler does on the second) would orphan kube-apiserver and etcd.
func signalContext(out io.Writer) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(out, "\nStopping: agents, manager, then the control plane...")
		cancel()
		for range sigs {
			fmt.Fprintln(out, "Still stopping the control plane; it is not left running.")
		}
	}()
	return ctx
}

// started describes the running system, for the headless test.
type started struct {
	restConfig *rest.Config
	kubeconfig string
	nodes      []simulatedNode
	webhook    localWebhook
}

// run starts everything, writes what a person needs to out, calls onReady (when set) once the
// system is up, and runs until ctx ends.
func run(ctx context.Context, out io.Writer, metricsAddr, probeAddr, logDir string, onReady func(started)) error {
	fmt.Fprintln(out, "Starting a local control plane (kube-apiserver and etcd built from Go modules)...")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	dir, err := os.MkdirTemp("", "kube-multipath-run-")
	if err != nil {
		return err
	}
	// Removed after the agents and their multipathd stopped (deferred later, so run earlier).
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		return err
	}
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	nodes := []simulatedNode{
		{name: "san-node-1", fixture: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json"},
		{name: "san-node-2", fixture: "maps-json-ibm-ubiquity-iscsi-one-path-faulty.json"},
		// The real multipathd where this machine can run it; the fixture serves the fake otherwise.
		{name: "san-node-3", fixture: "maps-json-proxmox-san-fenced-huawei-16paths-healthy.json", realDaemon: true},
	}
	for _, sn := range nodes {
		name := sn.name
		node := testenv.Node(name, map[string]string{"storage.kube-multipath.io/san": "true", "kubernetes.io/hostname": name})
		if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}

	opts := managerapp.DefaultOptions()
	opts.Namespace = namespace
	opts.LeaderElection = false
	opts.MetricsAddr = metricsAddr
	opts.ProbeAddr = probeAddr
	// The admission webhook runs as in a cluster, certificates included: the manager's rotator
	// fills the Secret and injects its CA into the webhook configuration. The local API server
	// calls it by URL at localhost (there is no Service routing without a cluster network), and
	// projectSecret plays the kubelet, copying the Secret into the certificate directory.
	wh, err := installWebhook(ctx, c, dir)
	if err != nil {
		return fmt.Errorf("installing the webhook configuration: %w", err)
	}
	opts.Webhook.Host, opts.Webhook.Port, opts.Webhook.CertDir = "127.0.0.1", wh.port, wh.certDir
	opts.Webhook.ManageCertificates = true
	opts.Webhook.ExtraDNSNames = []string{"localhost"}
	opts.AgentRefreshInterval = 5 * time.Second
	// make run starts one manager per process, TestMakeRunHeadless one per run (-count), and
	// controller names are unique in a process: the rotator's (an unmanaged controller, which
	// SkipNameValidation does not cover) is named after this run's webhook port.
	opts.SkipNameValidation = true
	opts.Webhook.RotatorName = mpwebhook.RotatorControllerName + "-" + strconv.Itoa(wh.port)
	projCtx, stopProjecting := context.WithCancel(ctx)
	projected := make(chan struct{})
	go func() { defer close(projected); projectSecret(projCtx, c, wh.certDir) }()
	defer func() { stopProjecting(); <-projected }()
	mgrErr := make(chan error, 1)
	go func() { mgrErr <- managerapp.Run(ctx, env.Config, opts) }()

	n, err := applySamples(ctx, c, filepath.Join(testenv.RepoRoot(), "config", "samples"), mgrErr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Admission webhook at %s, certificate issued and rotated by the manager (Secret %s/%s, copied to %s as the kubelet would mount it).\n",
		wh.url(), namespace, mpwebhook.DefaultSecretName, wh.certDir)
	fmt.Fprintf(out, "Applied %d objects from config/samples.\n", n)

	// The first render may predate the samples' LUNs: wait until it holds every one (or, should
	// a sample be refused by the render, take what is rendered after 60s).
	cfg := &mpv1alpha1.MultipathConfig{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		luns := &mpv1alpha1.MultipathWWIDList{}
		if err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err == nil && cfg.Status.RenderedConfig != nil {
			if c.List(ctx, luns) == nil && int(cfg.Status.RenderedConfig.LUNs) >= len(luns.Items) || time.Now().After(deadline) {
				break
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the manager did not render the samples within 60s")
		}
		select {
		case err := <-mgrErr:
			return fmt.Errorf("manager stopped: %w", err)
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	rc := cfg.Status.RenderedConfig

	fmt.Fprintf(out, "\nRendered %d LUNs (%d bytes) into ConfigMap %s/%s, hash %s.\n", rc.LUNs, rc.Bytes, namespace, rc.Name, rc.Hash[:16])
	fmt.Fprintln(out, "\nStarting the agents of three simulated nodes (temporary host roots; no device of this machine is touched)...")
	stopAgents, err := startAgents(ctx, c, dir, logDir, kubeconfig, nodes)
	if err != nil {
		return err
	}
	defer stopAgents()
	fmt.Fprint(out, describeDaemons(nodes))
	if err := waitApplied(ctx, c, len(nodes)); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
	}
	// The health matrix as `kubectl multipath status` prints it, from the agents' reports.
	fmt.Fprintln(out, "\nkubectl multipath status:")
	status := plugin.NewCommand(ctx, plugin.IOStreams{In: os.Stdin, Out: out, ErrOut: out})
	status.SetArgs([]string{"status", "--kubeconfig", kubeconfig, "--namespace", namespace})
	if err := status.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "status:", err)
	}
	fmt.Fprintf(out, "\nRendered files on each node (removed on exit):\n%s", describeNodes(nodes))
	fmt.Fprintf(out, "\nLogs (kept after exit): %s\n", describeLogs(logDir))
	fmt.Fprintf(out, "\nThe operator is running. Try:\n")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Fprintf(out, "  kubectl get multipath\n")
	fmt.Fprintf(out, "  go run ./cmd/kubectl-multipath status\n")
	fmt.Fprintf(out, "  kubectl get configmap -n %s %s -o yaml\n", namespace, rc.Name)
	fmt.Fprintf(out, "\nPress Ctrl-C to stop (the control plane and the temporary folder go with it).\n")
	if onReady != nil {
		onReady(started{restConfig: env.Config, kubeconfig: kubeconfig, nodes: nodes, webhook: wh})
	}
	select {
	case err := <-mgrErr:
		return err
	case <-ctx.Done():
		return nil
	}
}

// waitApplied waits until every MultipathConfig-selected node applied the rendered config and
// the health controller rolled it up.
func waitApplied(ctx context.Context, c client.Client, want int) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err == nil &&
			cfg.Status.Nodes.Updated == int32(want) && cfg.Status.ObservedGeneration == cfg.Generation {
			lun := &mpv1alpha1.MultipathWWID{}
			if err := c.Get(ctx, client.ObjectKey{Name: sampleAlias}, lun); err == nil && lun.Status.Health.Nodes != "" && !strings.HasPrefix(lun.Status.Health.Nodes, "0/") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not every simulated node applied the config within 90s: see the agent logs")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// applySamples creates every object in the YAML files of dir (server-side apply). While the
// webhook refuses calls it retries, unless the manager stopped (its error on mgrErr).
func applySamples(ctx context.Context, c client.Client, dir string, mgrErr <-chan error) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return n, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return n, fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			// The manager's webhook server starts a moment after the manager: wait for it.
			deadline := time.Now().Add(90 * time.Second)
			for {
				err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kube-multipath-localrun"), client.ForceOwnership)
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), "failed calling webhook") || time.Now().After(deadline) {
					return n, fmt.Errorf("applying %s %s from %s: %w", u.GetKind(), u.GetName(), filepath.Base(f), err)
				}
				select {
				case <-ctx.Done():
					return n, ctx.Err()
				case err := <-mgrErr:
					return n, fmt.Errorf("manager stopped: %w", err)
				case <-time.After(500 * time.Millisecond):
				}
			}
			n++
		}
	}
	return n, nil
}
