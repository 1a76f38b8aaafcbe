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

// Package app builds the kube-multipath node agent: controllers/agent for one node, with its
// file watcher, uevent listener, Event writer, health probes and metrics endpoint, run
// together. It is not a controller-runtime manager: the agent runs on every node, and
// controller-runtime's manager, client and cache link the scheme of every built-in kind, the
// largest part of an idle agent's memory (internal/kubeclient). It lives beside cmd/agent,
// which only parses flags, so that test/sim can start the same agent.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentctrl "github.com/kube-multipath/kube-multipath/controllers/agent"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
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

// Agent is a built agent: what it runs, and Trigger, which asks for a pass over the node at
// once (what a device-mapper uevent or a file change does).
type Agent struct {
	Trigger   func()
	runnables []runnable
}

// runnable is a part of the agent that runs until its context ends; an error stops the agent.
type runnable struct {
	name string
	run  func(context.Context) error
}

// Build builds the agent and returns it with its trigger.
func Build(cfg *rest.Config, o Options) (*Agent, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	kube, err := kubeclient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	daemon := &multipathd.SocketClient{Address: o.MultipathdSocket}
	triggers, trigger := agentctrl.NewTriggers()
	recorder := kubeclient.NewRecorder(kube, agentctrl.FieldOwner, agentctrl.FieldOwner+"-"+o.NodeName)
	r := &agentctrl.Reconciler{
		Kube:            kube,
		Recorder:        recorder,
		Host:            o.Host(daemon),
		Daemon:          daemon,
		NodeName:        o.NodeName,
		Namespace:       o.Namespace,
		RefreshInterval: o.RefreshInterval,
		Triggers:        triggers,
		// Open counts need the host's /dev/mapper/control (and CAP_SYS_ADMIN); without it the
		// users still come from sysfs, the mount and swap tables and udev's database.
		MapUsers: &mapusers.Reader{Root: o.HostRoot},
	}
	a := &Agent{Trigger: trigger}
	a.add("agent", r.Start)
	a.add("events", recorder.Start)
	if o.WatchFiles {
		a.add("file-watcher", (&agentctrl.FileWatcher{Root: o.HostRoot, Trigger: trigger}).Start)
	}
	if o.Uevents {
		a.add("uevent-listener", (&agentctrl.UeventListener{Trigger: trigger}).Start)
	}
	if o.MetricsAddr != "0" {
		metrics := promhttp.HandlerFor(agentctrl.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
		var tlsConfig *tls.Config
		if o.SecureMetrics {
			guard, err := metricsauth.New(cfg, kube.HTTPClient, metricsauth.Defaults)
			if err != nil {
				return nil, fmt.Errorf("creating the metrics endpoint's authorization: %w", err)
			}
			if metrics, err = guard(log.Log.WithName("metrics"), metrics); err != nil {
				return nil, err
			}
			if tlsConfig, err = selfSigned(); err != nil {
				return nil, err
			}
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		a.add("metrics", serve(o.MetricsAddr, mux, tlsConfig))
	}
	if o.ProbeAddr != "0" {
		probes := &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}
		mux := http.NewServeMux()
		for _, path := range []string{"/healthz", "/readyz"} {
			mux.Handle(path, http.StripPrefix(path, probes))
			mux.Handle(path+"/", http.StripPrefix(path, probes))
		}
		a.add("probes", serve(o.ProbeAddr, mux, nil))
	}
	if o.PprofAddr != "0" && o.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		a.add("pprof", serve(o.PprofAddr, mux, nil))
	}
	return a, nil
}

func (a *Agent) add(name string, run func(context.Context) error) {
	a.runnables = append(a.runnables, runnable{name, run})
}

// Start runs the agent until ctx ends, or one of its parts fails (then the others are stopped
// and its error returned, and the kubelet restarts the pod).
func (a *Agent) Start(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range a.runnables {
		g.Go(func() error {
			if err := r.run(ctx); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// serve serves handler on addr (over TLS when tlsConfig is set) until the context ends.
func serve(addr string, handler http.Handler, tlsConfig *tls.Config) func(context.Context) error {
	return func(ctx context.Context) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		if tlsConfig != nil {
			l = tls.NewListener(l, tlsConfig)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 32 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		<-stopped
		return nil
	}
}

// selfSigned is the metrics endpoint's TLS: a self-signed certificate, as controller-runtime's
// metrics server makes when given none (Prometheus scrapes node agents with insecureSkipVerify;
// the bearer token is what is checked), and HTTP/1.1 only (no HTTP/2 rapid-reset exposure on the
// node's network).
func selfSigned() (*tls.Config, error) {
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKeyWithFixtures("localhost", []net.IP{{127, 0, 0, 1}}, nil, "")
	if err != nil {
		return nil, fmt.Errorf("generating the metrics endpoint's certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}, nil
}

// Run builds the agent and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	a, err := Build(cfg, o)
	if err != nil {
		return err
	}
	log.FromContext(ctx).Info("Starting agent", "node", o.NodeName, "hostRoot", o.HostRoot, "namespace", o.Namespace)
	return a.Start(ctx)
}
