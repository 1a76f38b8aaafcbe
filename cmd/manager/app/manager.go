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

// Package app builds the kube-multipath manager: a leader-elected controller-runtime manager
// running three of the four controllers (render, rollout, health; the fourth, the node agent,
// runs on every node from cmd/agent) and the admission webhooks, with health probes and a
// metrics endpoint served over HTTPS behind Kubernetes authentication and authorization.
// It lives beside cmd/manager, which only parses flags, so that tests and hack/localrun can
// start the same manager.
package app

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"
	"unique"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/health"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/controllers/rollout"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/metricsauth"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

// Options are the manager's settings, bound to flags by BindFlags.
type Options struct {
	MetricsAddr          string
	SecureMetrics        bool
	ProbeAddr            string
	LeaderElection       bool
	LeaderElectionID     string
	Namespace            string
	History              int
	GracefulShutdownTime time.Duration
	// AgentRefreshInterval is how often the node agents poll multipathd and renew their Lease;
	// a report older than three intervals is not trusted.
	AgentRefreshInterval time.Duration
	// KubeAPIQPS and KubeAPIBurst rate-limit the manager's requests to the API server. A rollout
	// writes one MultipathNodeState per node, so they bound how fast 1,000 nodes get a config
	// (docs/performance.md).
	KubeAPIQPS   float64
	KubeAPIBurst int
	// PprofAddr serves net/http/pprof for profiling; "0" (the default) disables it.
	PprofAddr string
	// Webhook configures the admission webhook server and its certificates.
	Webhook mpwebhook.Options
	// SkipNameValidation lets a process start the manager more than once (controller-runtime
	// refuses a second controller of the same name in one process): hack/localrun's test
	// under -count.
	SkipNameValidation bool
}

// The manager's default API rate limits, above controller-runtime's 20 and 30: a GitOps sync
// of 1,000 LUNs with their volumes is about 3,000 writes (finalizer, status, health), which
// took 214 s to settle at 20 per second and 29 s at 200 (test/scale, docs/performance.md).
// API Priority and Fairness still protects the API server from the manager.
const (
	DefaultKubeAPIQPS   = 100
	DefaultKubeAPIBurst = 200
)

// DefaultOptions are the settings of a deployed manager.
func DefaultOptions() Options {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "kube-multipath-system"
	}
	return Options{
		MetricsAddr:          ":8443",
		SecureMetrics:        true,
		ProbeAddr:            ":8081",
		LeaderElection:       true,
		LeaderElectionID:     "kube-multipath-manager.multipath.kube-multipath.io",
		Namespace:            ns,
		History:              render.DefaultHistory,
		GracefulShutdownTime: 30 * time.Second,
		AgentRefreshInterval: rules.DefaultRefreshInterval,
		PprofAddr:            "0",
		KubeAPIQPS:           DefaultKubeAPIQPS,
		KubeAPIBurst:         DefaultKubeAPIBurst,
		Webhook:              mpwebhook.DefaultOptions(ns),
	}
}

// BindFlags registers the options on a flag set.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr, "Address of the metrics endpoint; 0 disables it.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics, "Serve metrics over HTTPS behind Kubernetes authentication and authorization.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "Address of the liveness and readiness probes.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "Elect a leader so that only one replica reconciles.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "Namespace of the rendered ConfigMaps (the operator's own; defaults to $POD_NAMESPACE).")
	fs.IntVar(&o.History, "rendered-history", o.History, "How many older rendered ConfigMaps to keep for rollback.")
	fs.DurationVar(&o.AgentRefreshInterval, "agent-refresh-interval", o.AgentRefreshInterval, "The agents' --refresh-interval: a node report older than three of them is unknown.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", o.PprofAddr, "Address of the net/http/pprof endpoint, for profiling; 0 disables it.")
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second the manager may send to the API server (sustained).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Requests the manager may send to the API server in a burst.")
	o.Webhook.BindFlags(fs)
}

// Scheme knows the built-in kinds and the kube-multipath kinds.
func Scheme() *runtime.Scheme { return scheme.New() }

// trimNode is a cache transform keeping what the controllers read of a Node.
func trimNode(obj any) (any, error) {
	if n, ok := obj.(*corev1.Node); ok {
		n.ManagedFields = nil
		n.Status.Images = nil
		n.Status.VolumesAttached = nil
		n.Status.VolumesInUse = nil
	}
	return obj, nil
}

// stripManagedFields is the cache's default transform, which a ByObject transform replaces.
var stripManagedFields = cache.TransformStripManagedFields()

// TrimNodeState is a cache transform dropping the paths and path groups of every reported map
// of a MultipathNodeState, and its managed fields as the default transform does (a type's own
// transform replaces the default one). At 1,000 nodes x 100 maps x 4 paths, the paths are tens
// of MB of the manager's cache (and the WWID, alias and state strings of the maps are interned),
// and nothing in the manager reads them: the health roll-up reads each map's WWID, name, state
// and path counts (internal/health) and the host conflicts, the render controller and the
// webhook each map's users (a map open on a node is in use), the rollout controller the spec,
// appliedConfig, the conditions and the metadata. `kubectl multipath maps` shows the paths and groups from the API server.
// Other objects are returned as they are.
func TrimNodeState(obj any) (any, error) {
	s, ok := obj.(*mpv1alpha1.MultipathNodeState)
	if !ok {
		return obj, nil
	}
	for i := range s.Status.Maps {
		m := &s.Status.Maps[i]
		m.Paths = nil
		// The groups are small (about 70 bytes each) but nothing here reads them either.
		m.PathGroups = nil
		// A LUN's WWID and alias are in the report of every node that carries it (ten nodes
		// each here); one copy of each string is kept, freed when no report names it.
		m.WWID = unique.Make(m.WWID).Value()
		m.Name = unique.Make(m.Name).Value()
		m.State = mpv1alpha1.MapState(unique.Make(string(m.State)).Value())
	}
	if cap(s.Status.Maps) > len(s.Status.Maps) {
		// The decoder grows the slice by doubling: up to half of it is room nothing fills, a
		// quarter of the reports' share of the cache at 100 maps a node.
		s.Status.Maps = slices.Clone(s.Status.Maps)
	}
	return stripManagedFields(s)
}

// CacheOptions are the manager's cache settings: objects trimmed to what the controllers read,
// Leases and ConfigMaps cached in namespace only.
func CacheOptions(namespace string) cache.Options {
	return cache.Options{
		// No cached object's managedFields are read (every write is a merge patch or an update;
		// the forced-teardown Event reads them once through the API reader), and
		// they are a large part of each cached MultipathWWID once several managers wrote it.
		DefaultTransform: stripManagedFields,
		ByObject: map[client.Object]cache.ByObject{
			// Only what consumer discovery reads is kept of each PersistentVolume.
			&corev1.PersistentVolume{}: {Transform: consumers.Transform},
			// Nodes are read for labels and readiness: images and managed fields are dropped so
			// 1,000 nodes stay cheap.
			&corev1.Node{}: {Transform: trimNode},
			// The agents' reports without their paths, which nothing here reads.
			&mpv1alpha1.MultipathNodeState{}: {Transform: TrimNodeState},
			// Agent heartbeats (and the leader election Lease) live in our namespace only.
			&coordinationv1.Lease{}: {Namespaces: map[string]cache.Config{namespace: {}}},
			// Only the ConfigMaps in our namespace are cached (the rendered ones and the rollout
			// wave), not every ConfigMap.
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{namespace: {}}},
		},
	}
}

// New builds a manager with every controller registered.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	if o.KubeAPIQPS > 0 {
		cfg.QPS, cfg.Burst = float32(o.KubeAPIQPS), max(o.KubeAPIBurst, 1)
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.MetricsAddr,
		SecureServing: o.SecureMetrics,
		// HTTP/2 stays off: it was the vector of the rapid-reset and stream-cancellation CVEs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = func(c *rest.Config, h *http.Client) (metricsserver.Filter, error) {
			return metricsauth.New(c, h, metricsauth.Defaults)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.Namespace,
		GracefulShutdownTimeout: &o.GracefulShutdownTime,
		Cache:                   CacheOptions(o.Namespace),
		Controller:              crconfig.Controller{SkipNameValidation: &o.SkipNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	// Once, before the controllers and the webhook that read them.
	if err := index.AddDefaultIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if err := (&render.Reconciler{
		Client:    mgr.GetClient(),
		Recorder:  mgr.GetEventRecorder("kube-multipath-render"),
		Namespace: o.Namespace,
		History:   o.History,
		APIReader: mgr.GetAPIReader(),
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the render controller: %w", err)
	}
	o.Webhook.Namespace = o.Namespace
	webhookReady, err := mpwebhook.SetupWithManager(mgr, o.Webhook)
	if err != nil {
		return nil, fmt.Errorf("setting up the admission webhook: %w", err)
	}
	if err := (&rollout.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("kube-multipath-rollout"),
		// The cache strips managedFields; the forced-teardown Event names who set the
		// annotation from them, read once per forced teardown.
		APIReader: mgr.GetAPIReader(),
		Namespace: o.Namespace,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the rollout controller: %w", err)
	}
	if err := (&health.Reconciler{
		Client:          mgr.GetClient(),
		Clock:           clock.RealClock{},
		Namespace:       o.Namespace,
		RefreshInterval: o.AgentRefreshInterval,
		MinInterval:     health.DefaultMinInterval,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the health controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	// Not ready until the webhook serves with a certificate the API server trusts.
	if err := mgr.AddReadyzCheck("webhook", webhookReady); err != nil {
		return nil, err
	}
	return mgr, nil
}

// Run builds the manager and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	mgr, err := New(cfg, o)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("Starting manager", "namespace", o.Namespace, "leaderElection", o.LeaderElection)
	return mgr.Start(ctx)
}
