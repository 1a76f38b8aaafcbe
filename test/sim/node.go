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

// Package sim simulates kube-multipath nodes in one process, for the scale harness (test/scale)
// and the fault drills (test/drills): each node is a Node object, a host root in a temporary
// folder (tmpfs when there is one), a fake multipathd serving generated maps, and the real
// agent (cmd/agent/app) with its own client and rate limits, as a DaemonSet pod has. It also
// runs the real manager binary as a separate process, so it can be killed and measured.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	agentapp "github.com/kube-multipath/kube-multipath/cmd/agent/app"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// Namespace is where the manager keeps rendered ConfigMaps and the agents their Leases.
const Namespace = "kube-multipath-system"

// SANLabel selects the simulated nodes (the samples' MultipathConfig selects it too).
const SANLabel = "storage.kube-multipath.io/san"

// NodeOptions shape a simulated node's agent.
type NodeOptions struct {
	// Dir holds the node's host root (Dir/<node>/host); tmpfs keeps 1,000 of them cheap.
	Dir string
	// RefreshInterval is the agent's --refresh-interval (multipathd poll and Lease renewal).
	RefreshInterval time.Duration
	// QPS and Burst are the agent client's rate limits; zero means controller-runtime's defaults
	// for a deployed agent (20 and 30, as ctrl.GetConfig sets them).
	QPS   float32
	Burst int
	// Maps are what the fake multipathd serves at start.
	Maps []multipathdtest.Map
	// Labels are added to the Node (SANLabel=true is always set).
	Labels map[string]string
}

// Node is one simulated node.
type Node struct {
	Name     string
	HostRoot string
	Daemon   *multipathdtest.FakeDaemon
	// Requests counts what this node's agent sent to the API server.
	Requests *Counter

	cfg    *rest.Config
	opts   NodeOptions
	mu     sync.Mutex
	agent  *agentapp.Agent
	cancel context.CancelFunc
	done   chan error
}

// NewNode creates the Node object (Ready, labelled) and the fake multipathd; StartAgent starts
// its agent.
func NewNode(ctx context.Context, c client.Client, cfg *rest.Config, name string, o NodeOptions) (*Node, error) {
	if err := CreateNode(ctx, c, name, o.Labels); err != nil {
		return nil, err
	}
	hostRoot := filepath.Join(o.Dir, name, "host")
	if err := os.MkdirAll(filepath.Join(hostRoot, "etc", "multipath", "conf.d"), 0o755); err != nil {
		return nil, err
	}
	d, err := multipathdtest.Start()
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, HostRoot: hostRoot, Daemon: d, Requests: &Counter{}, opts: o}
	n.SetMaps(o.Maps)
	n.cfg = rest.CopyConfig(cfg)
	n.cfg.QPS, n.cfg.Burst = 20, 30
	if o.QPS > 0 {
		n.cfg.QPS, n.cfg.Burst = o.QPS, o.Burst
	}
	n.cfg.UserAgent = "kube-multipath-agent/" + name
	// Its own connection, as on its own node: a custom dialer keeps client-go from sharing one
	// transport among identical configs.
	n.cfg.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	n.Requests.Wrap(n.cfg)
	return n, nil
}

// CreateNode creates a Ready Node selected by the SAN label, with labels added (an existing one
// is reused).
func CreateNode(ctx context.Context, c client.Client, name string, labels map[string]string) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{SANLabel: "true", corev1.LabelHostname: name}}}
	maps.Copy(node.Labels, labels)
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return SetNodeReady(ctx, c, name, true)
}

// SetNodeReady sets the Node's Ready condition.
func SetNodeReady(ctx context.Context, c client.Client, name string, ready bool) error {
	node := &corev1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		return err
	}
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "Simulated", LastHeartbeatTime: metav1.Now()}}
	return c.Status().Update(ctx, node)
}

// ReportedMaps are the maps an agent reports for what a fake multipathd serving maps answers:
// its `show maps json` read back through the agent's own parser and conversion.
func ReportedMaps(maps []multipathdtest.Map) ([]mpv1alpha1.MapStatus, error) {
	parsed, err := multipathd.ParseMapsJSON([]byte(multipathdtest.MapsJSON(maps)))
	if err != nil {
		return nil, err
	}
	return mapstatus.FromMaps(parsed), nil
}

// SetMaps changes what the fake multipathd serves.
func (n *Node) SetMaps(maps []multipathdtest.Map) {
	n.Daemon.SetReply("show maps json", multipathdtest.Reply{Body: multipathdtest.MapsJSON(maps)})
}

// AgentOptions are the options the node's agent runs with: a deployed agent's, except that the
// candidate is not run through `multipath -t` (1,000 parser runs on one machine measure this
// machine, not the cluster: docs/performance.md gives the per-node cost separately), multipathd
// answers at once so there is nothing to settle, and no ports or inotify instances are taken.
func (n *Node) AgentOptions() agentapp.Options {
	o := agentapp.DefaultOptions()
	o.NodeName = n.Name
	o.HostRoot = n.HostRoot
	o.Namespace = Namespace
	o.MultipathdSocket = n.Daemon.Address()
	if n.opts.RefreshInterval > 0 {
		o.RefreshInterval = n.opts.RefreshInterval
	}
	o.Validate = false
	o.SettleDelay = 0
	o.PostCheckTimeout = 5 * time.Second
	o.MetricsAddr, o.ProbeAddr = "0", "0"
	o.Uevents, o.WatchFiles = false, false
	return o
}

// StartAgent starts the node's agent; it runs until StopAgent or ctx ends.
func (n *Node) StartAgent(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.agent != nil {
		return fmt.Errorf("the agent of %s is running", n.Name)
	}
	a, err := n.build(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.run(ctx, a) }()
	n.agent, n.cancel, n.done = a, cancel, done
	return nil
}

// build builds the agent, retrying for two minutes: building reads the API server's discovery,
// which times out while a thousand agents start at once.
func (n *Node) build(ctx context.Context) (*agentapp.Agent, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for backoff := time.Second; ; backoff = min(2*backoff, 15*time.Second) {
		a, err := agentapp.Build(n.cfg, n.AgentOptions())
		if err == nil || time.Now().After(deadline) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// run runs the agent, and starts a new one when it fails (discovery timing out while a
// thousand agents start at once, say), as the kubelet restarts a DaemonSet pod that exits.
func (n *Node) run(ctx context.Context, a *agentapp.Agent) error {
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := a.Start(ctx)
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		next, berr := n.build(ctx)
		if berr != nil {
			return errors.Join(err, berr)
		}
		n.mu.Lock()
		n.agent = next
		n.mu.Unlock()
		a = next
	}
}

// Trigger asks the agent for a pass at once, as a device-mapper uevent does on a real node.
func (n *Node) Trigger() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.agent != nil {
		n.agent.Trigger()
	}
}

// StopAgent stops the agent (its context ends, as when the pod is killed) and waits for it.
func (n *Node) StopAgent() error {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.agent, n.cancel, n.done = nil, nil, nil
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		return errors.New("the agent of " + n.Name + " did not stop within a minute")
	}
}

// Close stops the agent and the fake multipathd.
func (n *Node) Close() error {
	return errors.Join(n.StopAgent(), n.Daemon.Close())
}

// ReadFile reads a file under the node's host root.
func (n *Node) ReadFile(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(n.HostRoot, rel))
}

// KeepLogs empties a failed run's folder of what is not worth keeping: every file of 1 MiB or
// more that is not a log (the built binaries, the guest's disk images). The folder is on tmpfs: a failed
// e2e run kept half a GiB of RAM until someone removed it by hand. It returns what it freed.
func KeepLogs(dir string) (freed int64) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(path, ".log") {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() >= 1<<20 && os.Remove(path) == nil {
			freed += info.Size()
		}
		return nil
	})
	return freed
}

// TempDir returns a temporary folder on tmpfs (/dev/shm) when the machine has one, else in
// the default temporary folder.
func TempDir(pattern string) (string, error) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", pattern); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", pattern)
}
