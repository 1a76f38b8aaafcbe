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

// Package app builds the kube-multipath node agent: a controller-runtime manager, without
// leader election, that runs controllers/agent for one node, with its file watcher, uevent
// listener, health probes and metrics endpoint. It lives beside cmd/agent, which only parses
// flags, so that test/sim can start the same agent.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	agentctrl "github.com/kube-multipath/kube-multipath/controllers/agent"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/mapusers"
	"github.com/kube-multipath/kube-multipath/internal/metricsauth"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// Options are the agent's settings, bound to flags by BindFlags.
type Options struct {
	NodeName         string
	HostRoot         string
	Namespace        string
	MultipathdSocket string
	RefreshInterval  time.Duration
	// Validate runs the node's own `multipath -t` over each candidate before it is written.
	Validate bool
	// ParserRoot is the file system whose multipath binary validates; "" means HostRoot.
	ParserRoot       string
	SettleDelay      time.Duration
	PostCheckTimeout time.Duration
	MetricsAddr      string
	SecureMetrics    bool
	ProbeAddr        string
	PprofAddr        string
	Uevents          bool
	// WatchFiles re-checks the host's files at once when they change (fsnotify), not only every
	// refresh interval.
	WatchFiles bool
	// SkipNameValidation lets several agents run in one process (the scale harness simulates
	// nodes that way); controller names must otherwise be unique per process. Not a flag.
	SkipNameValidation bool
}

// DefaultOptions are the settings of a deployed agent. NODE_NAME and POD_NAMESPACE come from
// the downward API.
func DefaultOptions() Options {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "kube-multipath-system"
	}
	return Options{
		NodeName:         os.Getenv("NODE_NAME"),
		HostRoot:         "/host",
		Namespace:        ns,
		MultipathdSocket: multipathd.DefaultAddress,
		RefreshInterval:  rules.DefaultRefreshInterval,
		Validate:         true,
		SettleDelay:      time.Second,
		PostCheckTimeout: 10 * time.Second,
		// The agent runs in the host's network namespace: its ports are the node's. These two
		// are unlikely to be taken; change them in the DaemonSet if they are.
		MetricsAddr:   ":9965",
		SecureMetrics: true,
		ProbeAddr:     "127.0.0.1:9966",
		PprofAddr:     "0",
		Uevents:       true,
		WatchFiles:    true,
	}
}

// BindFlags registers the options on a flag set.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "Name of this node (defaults to $NODE_NAME); only its MultipathNodeState is reconciled.")
	fs.StringVar(&o.HostRoot, "host-root", o.HostRoot, "Where the host's / is mounted; every host path is under it.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Namespace of the rendered ConfigMaps and of the agent's Lease (defaults to $POD_NAMESPACE).")
	fs.StringVar(&o.MultipathdSocket, "multipathd-socket", o.MultipathdSocket, "multipathd's socket; a leading @ names an abstract socket.")
	fs.DurationVar(&o.RefreshInterval, "refresh-interval", o.RefreshInterval, "How often multipathd's maps are read and the Lease renewed.")
	fs.BoolVar(&o.Validate, "validate", o.Validate, "Check each candidate config with the node's own `multipath -t` before writing it.")
	fs.StringVar(&o.ParserRoot, "parser-root", o.ParserRoot, "File system whose multipath binary and /etc/multipath.conf validate candidates (defaults to --host-root; / uses the agent image's).")
	fs.DurationVar(&o.SettleDelay, "settle-delay", o.SettleDelay, "Wait after `multipathd reconfigure` before the post-check, only when multipathd does not answer `show daemon` (every tested release does: the post-check then waits for it to be idle with no reconfigure pending).")
	fs.DurationVar(&o.PostCheckTimeout, "post-check-timeout", o.PostCheckTimeout, "How long the post-check waits, once multipathd has finished reconfiguring, for maps to come back with their names before rolling back.")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "Address of the metrics endpoint (on the node's network); 0 disables it.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics, "Serve metrics over HTTPS behind Kubernetes authentication and authorization.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "Address of the liveness and readiness probes (on the node's network).")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "Address of the net/http/pprof endpoint, for profiling; 0 disables it.")
	fs.BoolVar(&o.Uevents, "uevents", o.Uevents, "Read maps at once on a device-mapper uevent, not only every refresh interval.")
	fs.BoolVar(&o.WatchFiles, "watch-files", o.WatchFiles, "Re-check the host's multipath files at once when they change, not only every refresh interval.")
}

// validate reports what is missing or wrong in the options.
func (o *Options) validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("--node-name (or $NODE_NAME) is required"))
	}
	if o.HostRoot == "" {
		errs = append(errs, errors.New("--host-root is required"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("--namespace (or $POD_NAMESPACE) is required"))
	}
	if o.RefreshInterval < time.Second {
		errs = append(errs, fmt.Errorf("--refresh-interval %s is below 1s", o.RefreshInterval))
	}
	return errors.Join(errs...)
}

// Host is the host-file transaction the options describe.
func (o *Options) Host(daemon multipathd.Client) *hostfs.Host {
	h := &hostfs.Host{
		Root:             o.HostRoot,
		Client:           daemon,
		SettleDelay:      o.SettleDelay,
		PostCheckTimeout: o.PostCheckTimeout,
	}
	if o.Validate {
		root := o.ParserRoot
		if root == "" {
			root = o.HostRoot
		}
		h.Validator = &hostfs.ParserValidator{Root: root}
	}
	return h
}

// Scheme holds only the kinds the agent reads or writes (smaller than every built-in kind:
// the agent's memory matters on every node).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme, mpv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// Agent is a built agent: its manager, and Trigger, which asks for a pass over the node at once
// (what a device-mapper uevent or a file change does).
type Agent struct {
	ctrl.Manager
	Trigger func()
}

// Build builds the agent and returns it with its trigger.
func Build(cfg *rest.Config, o Options) (*Agent, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.MetricsAddr,
		SecureServing: o.SecureMetrics,
		TLSOpts:       []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = metricsauth.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: o.ProbeAddr,
		PprofBindAddress:       o.PprofAddr,
		LeaderElection:         false, // one agent per node, each on its own object
		Controller:             config.Controller{SkipNameValidation: &o.SkipNameValidation},
		// This node's MultipathNodeState without its report, and the operator's ConfigMaps.
		Cache: cache.Options{ByObject: agentctrl.CacheByObject(o.NodeName, o.Namespace)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	daemon := &multipathd.SocketClient{Address: o.MultipathdSocket}
	triggers, trigger := agentctrl.NewTriggers(o.NodeName)
	if err := (&agentctrl.Reconciler{
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Recorder:        mgr.GetEventRecorder("kube-multipath-agent"),
		Host:            o.Host(daemon),
		Daemon:          daemon,
		NodeName:        o.NodeName,
		Namespace:       o.Namespace,
		RefreshInterval: o.RefreshInterval,
		Triggers:        triggers,
		// Open counts need the host's /dev/mapper/control (and CAP_SYS_ADMIN); without it the
		// users still come from sysfs, the mount and swap tables and udev's database.
		MapUsers: &mapusers.Reader{Root: o.HostRoot},
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the agent controller: %w", err)
	}
	if o.WatchFiles {
		if err := mgr.Add(&agentctrl.FileWatcher{Root: o.HostRoot, Trigger: trigger}); err != nil {
			return nil, err
		}
	}
	if o.Uevents {
		if err := mgr.Add(&agentctrl.UeventListener{Trigger: trigger}); err != nil {
			return nil, err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return &Agent{Manager: mgr, Trigger: trigger}, nil
}

// Run builds the agent and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	a, err := Build(cfg, o)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Starting agent", "node", o.NodeName, "hostRoot", o.HostRoot, "namespace", o.Namespace)
	return a.Start(ctx)
}
