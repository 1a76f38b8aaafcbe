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

package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

// namespace is the operator's namespace: rendered ConfigMaps, test Secrets.
const namespace = "kube-multipath-system"

var (
	// testEnv is the control plane, with config/webhook/manifests.yaml installed and pointed at
	// the main manager's webhook server.
	testEnv *envtest.Environment
	// restConfig reaches the API server as an administrator.
	restConfig *rest.Config
	// k8s is a direct client for arranging and asserting.
	k8s client.Client
	// cached reads the main manager's cache: what the webhook sees.
	cached client.Reader
	// webhookReady is the main manager's webhook readiness check.
	webhookReady healthz.Checker
	// testScheme knows the built-in kinds and ours.
	testScheme *runtime.Scheme
)

// TestMain starts one control plane for the package. It builds its own envtest.Environment
// rather than calling testenv.Run, whose Start installs no webhook configuration: here envtest
// installs config/webhook/manifests.yaml, generates a serving certificate, and points the
// configuration at the main manager's webhook server by URL.
func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(testenv.RepoRoot(), "bin", "k8s", "current")
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(testenv.RepoRoot(), "config", "webhook", "manifests.yaml")},
		},
	}
	var err error
	if restConfig, err = testEnv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	code, err := runWithManager(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if err := testEnv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		code = 1
	}
	return code
}

// runWithManager starts the main manager (the render controller and the webhook, certificates
// from envtest) and runs the tests.
func runWithManager(m *testing.M) (int, error) {
	testScheme = testenv.Scheme()
	var err error
	if k8s, err = client.New(restConfig, client.Options{Scheme: testScheme}); err != nil {
		return 1, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return 1, err
	}
	mgr, err := newManager()
	if err != nil {
		return 1, err
	}
	if err := (&render.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("render-test"), Namespace: namespace}).SetupWithManager(mgr); err != nil {
		return 1, err
	}
	wio := &testEnv.WebhookInstallOptions
	webhookReady, err = mpwebhook.SetupWithManager(mgr, mpwebhook.Options{
		Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
	})
	if err != nil {
		return 1, err
	}
	cached = mgr.GetClient()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := poll(ctx, time.Minute, func() error { return webhookReady(nil) }); err != nil {
		return 1, fmt.Errorf("the webhook never became ready: %w", err)
	}
	// The API server loads the webhook configuration asynchronously: wait until it calls us.
	probe := lun("probe", "3600probe", withNodeSelector(badSelector()))
	if err := poll(ctx, time.Minute, func() error {
		err := k8s.Create(ctx, probe, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "denied the request") {
			return fmt.Errorf("webhook not called yet: %v", err)
		}
		return nil
	}); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// newManager builds a manager configured like cmd/manager/app's (the same cache trimming).
func newManager() (ctrl.Manager, error) {
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.PersistentVolume{}: {Transform: consumers.Transform},
			&corev1.ConfigMap{}:        {Namespaces: map[string]cache.Config{namespace: {}}},
		}},
	})
	if err != nil {
		return nil, err
	}
	return mgr, index.AddDefaultIndexes(context.Background(), mgr.GetFieldIndexer())
}

// poll calls f until it returns nil or the timeout passes, returning f's last error.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls f until it returns nil, failing the test with f's last error after 45 s.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	if err := poll(context.Background(), 45*time.Second, f); err != nil {
		t.Fatalf("timed out: %v", err)
	}
}

// Builders of test objects.

type lunOption func(*mpv1alpha1.MultipathWWID)

func lun(name, wwid string, opts ...lunOption) *mpv1alpha1.MultipathWWID {
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid}}
	for _, o := range opts {
		o(w)
	}
	return w
}

func withAlias(a string) lunOption { return func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = a } }

func withForce() lunOption {
	return func(w *mpv1alpha1.MultipathWWID) {
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
	}
}

func withNodeSelector(s *metav1.LabelSelector) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { w.Spec.NodeSelector = s }
}

func withLabel(k, v string) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { metav1.SetMetaDataLabel(&w.ObjectMeta, k, v) }
}

func withPrioArgs(s string) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { w.Spec.PrioArgs = s }
}

func withFinalizer(f string) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { w.Finalizers = append(w.Finalizers, f) }
}

// badSelector is a label selector the CRD accepts and Kubernetes' selector validation refuses.
func badSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}}}
}

func pv(name string, mutate func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	p := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{Driver: "example.csi.k8s.io", VolumeHandle: name},
			},
		},
	}
	mutate(p)
	return p
}

// pvFC uses a LUN through spec.fc.wwids.
func pvFC(name, wwid string) *corev1.PersistentVolume {
	return pv(name, func(p *corev1.PersistentVolume) {
		p.Spec.CSI = nil
		p.Spec.FC = &corev1.FCVolumeSource{WWIDs: []string{wwid}}
	})
}

// pvLocal uses a device path through spec.local.path (local volumes need a node affinity).
func pvLocal(name, path string) *corev1.PersistentVolume {
	return pv(name, func(p *corev1.PersistentVolume) {
		p.Spec.CSI = nil
		p.Spec.Local = &corev1.LocalVolumeSource{Path: path}
		p.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
		}}}}
	})
}

// pvAnnotated names its LUN with the multipath.kube-multipath.io/wwid annotation.
func pvAnnotated(name, wwid string) *corev1.PersistentVolume {
	return pv(name, func(p *corev1.PersistentVolume) {
		metav1.SetMetaDataAnnotation(&p.ObjectMeta, mpv1alpha1.WWIDAnnotation, wwid)
	})
}

// pvCSI names its LUN in a CSI volume attribute.
func pvCSI(name, wwid string) *corev1.PersistentVolume {
	return pv(name, func(p *corev1.PersistentVolume) { p.Spec.CSI.VolumeAttributes = map[string]string{"wwid": wwid} })
}

// create creates objects and deletes them when the test ends (PersistentVolumes first, then
// the LUNs they protected), waiting until they are gone.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		slicesStableByPVFirst(objs)
		for _, o := range objs {
			remove(t, o)
		}
	})
}

func slicesStableByPVFirst(objs []client.Object) {
	var pvs, rest []client.Object
	for _, o := range objs {
		if _, ok := o.(*corev1.PersistentVolume); ok {
			pvs = append(pvs, o)
		} else {
			rest = append(rest, o)
		}
	}
	copy(objs, append(pvs, rest...))
}

// remove deletes an object, forcing past finalizers and the delete webhook (envtest runs no
// pv-protection controller; a test LUN may still be consumed), and waits until it is gone.
func remove(t *testing.T, o client.Object) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKeyFromObject(o)
	if w, ok := o.(*mpv1alpha1.MultipathWWID); ok {
		cur := &mpv1alpha1.MultipathWWID{}
		if err := k8s.Get(ctx, key, cur); err == nil {
			before := cur.DeepCopy()
			metav1.SetMetaDataAnnotation(&cur.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
			_ = k8s.Patch(ctx, cur, client.MergeFrom(before))
		}
		o = w
	}
	if err := k8s.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s: %v", key, err)
	}
	eventually(t, func() error {
		cur := o.DeepCopyObject().(client.Object)
		err := k8s.Get(ctx, key, cur)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil && len(cur.GetFinalizers()) > 0 {
			cur.SetFinalizers(nil)
			_ = k8s.Update(ctx, cur)
		}
		return fmt.Errorf("%T %s still there (%v)", o, key, err)
	})
}

// seen waits until the main manager's cache has the object as created (the webhook reads it).
func seen(t *testing.T, objs ...client.Object) {
	t.Helper()
	ctx := context.Background()
	eventually(t, func() error {
		for _, o := range objs {
			cur := o.DeepCopyObject().(client.Object)
			if err := cached.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
				return fmt.Errorf("cache has no %T %s: %w", o, o.GetName(), err)
			}
			if !o.GetDeletionTimestamp().IsZero() && cur.GetDeletionTimestamp().IsZero() {
				return fmt.Errorf("cache does not see %s deleted", o.GetName())
			}
		}
		return nil
	})
}

// warningRecorder keeps the warnings the API server returns.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

func (r *warningRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.warnings
	r.warnings = nil
	return w
}

// recordingClient is a direct client whose warnings land in the returned recorder.
func recordingClient(t *testing.T) (client.Client, *warningRecorder) {
	t.Helper()
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(restConfig)
	cfg.WarningHandlerWithContext = rec
	c, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// errorText is an error's message, or "<nil>".
func errorText(err error) string {
	if err == nil {
		return "<nil>"
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}
