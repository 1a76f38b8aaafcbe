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

package drills

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// refresh is the agents' --refresh-interval and the manager's --agent-refresh-interval: short,
// so that a stale node shows within seconds.
const refresh = time.Second

// sys is the system every drill runs against.
var sys *system

// system is the control plane, the binaries and the manager process.
type system struct {
	env        *testenv.Env
	c          client.Client
	dir        string
	kubeconfig string
	managerBin string
	agentBin   string

	mu  sync.Mutex
	mgr *sim.Manager
	// mgrArgs are the manager's extra flags now; nil is the default (webhook served).
	mgrArgs []string
	// mgrWebhook is whether the running manager serves the webhook.
	mgrWebhook bool

	// renders is every rendered ConfigMap ever seen.
	renders *renderRegistry
	// stopWatches ends the package's watches before the control plane stops.
	stopWatches context.CancelFunc
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := sim.TempDir("kube-multipath-drills-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logFile, err := os.Create(filepath.Join(dir, "agents.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	// The in-process agents and client-go log to a file: a fault makes them log a lot.
	logger := zap.New(zap.WriteTo(logFile), zap.UseDevMode(false))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	s, err := start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "drills:", err)
		if s != nil {
			s.stop()
		}
		return 1
	}
	sys = s
	code := m.Run()
	s.stop()
	if code != 0 {
		sim.KeepLogs(dir)
		fmt.Fprintf(os.Stderr, "drills: logs kept in %s (manager.log, agents.log, agent-*.log)\n", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	return code
}

// start starts the control plane with the webhook configuration installed, builds the manager
// and agent binaries, and starts the manager.
func start(dir string) (*system, error) {
	s := &system{dir: dir}
	// The API server's certificates live in a folder of ours, not one envtest allocates: envtest
	// removes its own folder on Stop and makes a new CA on Start, which no running client would
	// trust. With a fixed folder the API server restarts on the same port with the same
	// certificates (drill: API server restart).
	certDir := filepath.Join(dir, "apiserver")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	builds := make(chan error, 2)
	ctx := context.Background()
	go func() {
		var err error
		s.managerBin, err = sim.BuildManager(ctx, dir)
		builds <- err
	}()
	go func() {
		var err error
		s.agentBin, err = buildAgent(ctx, dir)
		builds <- err
	}()
	apiLog, err := os.Create(filepath.Join(dir, "apiserver.log"))
	if err != nil {
		return nil, err
	}
	env, err := testenv.Start(testenv.WithWebhooks(), func(e *envtest.Environment) {
		e.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir, Out: apiLog, Err: apiLog}
		// A graceful stop ends the watches after this long, as a kube-apiserver rolled in a
		// cluster does; without it, it waits for every watch to end (the clients never end
		// theirs) until envtest's stop timeout.
		e.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	})
	buildErr := errors.Join(<-builds, <-builds)
	if err != nil {
		return nil, errors.Join(err, buildErr)
	}
	s.env, s.c = env, env.Client
	if buildErr != nil {
		return s, buildErr
	}
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(s.kubeconfig); err != nil {
		return s, err
	}
	if err := s.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sim.Namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return s, err
	}
	wctx, cancel := context.WithCancel(ctx)
	s.stopWatches = cancel
	if s.renders, err = watchRenders(wctx, env); err != nil {
		return s, err
	}
	if err := s.startManager(ctx, true); err != nil {
		return s, err
	}
	return s, nil
}

func (s *system) stop() {
	if s.stopWatches != nil {
		s.stopWatches()
	}
	s.mu.Lock()
	if s.mgr != nil {
		_ = s.mgr.Stop()
		s.mgr = nil
	}
	s.mu.Unlock()
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "drills: stopping the control plane:", err)
		}
	}
}

// buildAgent builds cmd/agent into dir (drill: agent SIGKILLed mid-apply runs it as a process).
func buildAgent(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "agent")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/agent")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent: %w\n%s", err, out)
	}
	return bin, nil
}

// startManager starts the manager process: with the webhook served on envtest's port and
// certificate, or without any webhook server (the API server then finds nobody at the URL).
// extra flags come last and win.
func (s *system) startManager(ctx context.Context, webhook bool, extra ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mgr != nil {
		return errors.New("the manager is running")
	}
	args := []string{"--agent-refresh-interval=" + refresh.String()}
	if webhook {
		wio := &s.env.WebhookInstallOptions
		args = append(args, "--webhook-port="+strconv.Itoa(wio.LocalServingPort), "--webhook-cert-dir="+wio.LocalServingCertDir,
			"--webhook-manage-certificates=false")
	}
	args = append(args, extra...)
	m := &sim.Manager{Bin: s.managerBin, Kubeconfig: s.kubeconfig, Log: filepath.Join(s.dir, "manager.log"), Args: args}
	if f, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "==== %s starting the manager: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
		_ = f.Close()
	}
	if err := m.Start(); err != nil {
		return err
	}
	s.mgr, s.mgrArgs, s.mgrWebhook = m, extra, webhook
	if err := m.WaitMetrics(ctx); err != nil {
		return err
	}
	if webhook {
		return waitWebhook(ctx, s.c)
	}
	return nil
}

// waitWebhook waits until the API server calls the manager's webhook: a dry-run create the
// webhook refuses (a node selector Kubernetes cannot parse, which the CRD schema lets through).
func waitWebhook(ctx context.Context, c client.Client) error {
	probe := &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: "drill-webhook-probe"},
		Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600drillprobe", NodeSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}},
		}},
	}
	return poll(ctx, time.Minute, func() error {
		err := c.Create(ctx, probe, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "denied the request") {
			return fmt.Errorf("the webhook is not called yet: %v", err)
		}
		return nil
	})
}

// stopManager stops the manager: SIGKILL when kill, else a graceful stop.
func (s *system) stopManager(kill bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mgr == nil {
		return nil
	}
	var err error
	if kill {
		err = s.mgr.Kill()
	} else {
		err = s.mgr.Stop()
	}
	s.mgr = nil
	return err
}

// restartManager replaces the running manager with one started with these options.
func (s *system) restartManager(ctx context.Context, webhook bool, extra ...string) error {
	if err := s.stopManager(false); err != nil {
		return err
	}
	return s.startManager(ctx, webhook, extra...)
}

// ensureDefaultManager makes sure the manager runs with the default options (webhook served):
// a drill that changed it, or failed halfway, leaves the next one a normal system.
func (s *system) ensureDefaultManager(ctx context.Context) error {
	s.mu.Lock()
	ok := s.mgr != nil && s.mgrWebhook && len(s.mgrArgs) == 0
	if ok {
		if done, _ := s.mgr.Exited(); done {
			ok = false
		}
	}
	s.mu.Unlock()
	if ok {
		return nil
	}
	return s.restartManager(ctx, true)
}

// poll calls f until it returns nil or timeout passes, and returns f's last error.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
