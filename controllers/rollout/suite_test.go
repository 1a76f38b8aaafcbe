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

package rollout_test

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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/controllers/rollout"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const (
	// namespace holds the rendered ConfigMaps.
	namespace = "kube-multipath-system"
	// timeout bounds every eventually: generous, the machine is shared.
	timeout = 30 * time.Second
)

var (
	env *testenv.Env
	// ctx is the context of the tests; it outlives the manager.
	ctx = context.Background()
)

// TestMain starts one control plane and one manager (the render and rollout controllers) for the
// package; the manager is stopped before the control plane (testenv.Env.OnStop).
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

// startManager runs the render and rollout controllers against e until the returned function
// is called.
func startManager(e *testenv.Env) (func(), error) {
	// Controller logs go to stderr with -v, nowhere otherwise.
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
		LeaderElection:         false,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.PersistentVolume{}: {Transform: consumers.Transform},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := index.AddDefaultIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if err := (&render.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("render"), Namespace: namespace, APIReader: mgr.GetAPIReader()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the render controller: %w", err)
	}
	if err := (&rollout.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("rollout"), Namespace: namespace}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the rollout controller: %w", err)
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

// eventually calls f until it returns nil, and fails the test with f's last error after timeout.
func eventually(t testing.TB, f func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, f)
}
