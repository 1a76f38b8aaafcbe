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

package render_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const namespace = "kube-multipath-system"

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		return e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	}))
}

// startManager runs a manager with the render controller until the test ends (or stop is called).
func startManager(t *testing.T) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.PersistentVolume{}: {Transform: consumers.Transform},
			&corev1.ConfigMap{}:        {Namespaces: map[string]cache.Config{namespace: {}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := index.AddDefaultIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		t.Fatal(err)
	}
	if err := (&render.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("render-test"), Namespace: namespace, APIReader: mgr.GetAPIReader()}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls f until it returns nil, failing the test with f's last error after a timeout.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	testenv.Eventually(t, 45*time.Second, f)
}

// cleanup deletes every kube-multipath object and PV the test made and waits until they are gone.
func cleanup(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := env.Client
	// Volumes first (envtest runs no pv-protection controller, so their finalizers are dropped
	// here), then the LUNs they protected.
	_ = c.DeleteAllOf(ctx, &corev1.PersistentVolume{})
	eventually(t, func() error {
		pvs := &corev1.PersistentVolumeList{}
		if err := c.List(ctx, pvs); err != nil || len(pvs.Items) > 0 {
			for i := range pvs.Items {
				if len(pvs.Items[i].Finalizers) > 0 {
					pvs.Items[i].Finalizers = nil
					_ = c.Update(ctx, &pvs.Items[i])
				}
			}
			return fmt.Errorf("%d PersistentVolumes left (%v)", len(pvs.Items), err)
		}
		return nil
	})
	wwids := &mpv1alpha1.MultipathWWIDList{}
	_ = c.DeleteAllOf(ctx, &mpv1alpha1.MultipathWWID{})
	_ = c.Delete(ctx, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}})
	eventually(t, func() error {
		if err := c.List(ctx, wwids); err != nil || len(wwids.Items) > 0 {
			// Without a manager running nobody drops the in-use finalizer.
			for i := range wwids.Items {
				if len(wwids.Items[i].Finalizers) > 0 {
					wwids.Items[i].Finalizers = nil
					_ = c.Update(ctx, &wwids.Items[i])
				}
			}
			return fmt.Errorf("%d MultipathWWIDs left (%v)", len(wwids.Items), err)
		}
		err := c.Get(ctx, client.ObjectKey{Name: "cluster"}, &mpv1alpha1.MultipathConfig{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("MultipathConfig cluster still there (%v)", err)
		}
		return nil
	})
}
