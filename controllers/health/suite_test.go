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

package health_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	managerapp "github.com/kube-multipath/kube-multipath/cmd/manager/app"
	"github.com/kube-multipath/kube-multipath/controllers/health"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const (
	// namespace holds the agents' Leases.
	namespace = "kube-multipath-system"
	// refresh is the agents' refresh interval the controller is told: the real default, so the
	// periodic pass is the deployed one (the staleness test waits for it once).
	refresh = rules.DefaultRefreshInterval
	// timeout bounds every eventually: generous, the machine is shared.
	timeout = 30 * time.Second
	// poll is the polling interval of eventually.
	poll = 20 * time.Millisecond
)

var (
	env *testenv.Env
	// ctx is the context of the tests; it outlives the manager.
	ctx = context.Background()
	// clock is the controller's clock; tests step it to age the agents' heartbeats.
	clock = clocktesting.NewFakePassiveClock(time.Now().UTC().Truncate(time.Second))
)

// TestMain starts one control plane and one manager running the health controller, and stops the
// manager before the control plane (kube-apiserver waits for open watches otherwise).
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		stopManager, err := startManager(e)
		if err != nil {
			return err
		}
		// The manager stops before the control plane: kube-apiserver waits for open watches.
		e.OnStop(stopManager)
		return nil
	}))
}

// startManager runs the health controller against e, with the cache set up as cmd/manager/app
// sets it up, until the returned function is called.
func startManager(e *testenv.Env) (func(), error) {
	log := logr.Discard()
	if testing.Verbose() {
		log = funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, time.Now().Format("15:04:05.000"), prefix, args) }, funcr.Options{Verbosity: 4})
	}
	ctrl.SetLogger(log)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// The manager's own cache: MultipathNodeStates without their paths, trimmed Nodes and
		// PersistentVolumes, Leases of the namespace only.
		Cache: managerapp.CacheOptions(namespace),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	r := &health.Reconciler{Client: mgr.GetClient(), Clock: clock, Namespace: namespace, RefreshInterval: refresh}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the health controller: %w", err)
	}
	if !health.ReadsVolumesInPlace(r) {
		// Every test with a consumer volume then covers the in-place reads.
		return nil, errors.New("the health controller reads PersistentVolumes by copying Gets, not from the informer's store")
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		cancel()
		return nil, errors.Join(errors.New("manager cache did not sync"), <-done)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}, nil
}

// eventually calls f until it returns nil, fails the test with f's last error after timeout, and
// returns how long it took.
func eventually(t testing.TB, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := f()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(poll)
	}
}
