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

// Package testenv starts one real control plane (kube-apiserver and etcd, built from Go modules
// by hack/envtest.sh) per test package, with the kube-multipath CRDs installed, so integration
// tests exercise the real API server's validation, defaulting and admission rather than mocks.
//
// Debug switches:
//   - KUBE_MULTIPATH_TEST_ENV_KUBECONFIG=path writes a kubeconfig for the running control plane;
//   - KUBE_MULTIPATH_TEST_ENV_SKIP_STOP=true leaves it running after the tests (with the above, to
//     inspect it with kubectl).
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// Env is a running control plane with a direct (uncached) client for assertions.
type Env struct {
	*envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a direct client: tests assert through it, controllers keep their caches.
	Client client.Client
	// Scheme knows the built-in kinds and ours.
	Scheme *runtime.Scheme

	onStop []func()
}

// OnStop registers f to run before the control plane stops, newest first: setup stops the
// managers it started there, so kube-apiserver is not stopped under live watches (which makes
// it hang until envtest's stop timeout).
func (e *Env) OnStop(f func()) { e.onStop = append(e.onStop, f) }

// RepoRoot is the root of the source tree, found from this file's location so tests run from
// any directory or an IDE.
func RepoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Scheme returns a scheme with the built-in kinds and the kube-multipath kinds.
func Scheme() *runtime.Scheme { return scheme.New() }

// binaryDir is KUBEBUILDER_ASSETS when set, else bin/k8s/current as hack/envtest.sh links it.
func binaryDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	dir := filepath.Join(RepoRoot(), "bin", "k8s", "current")
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", fmt.Errorf("no control plane binaries in %s: run `make test`, or `hack/envtest.sh` once to build them", dir)
	}
	return dir, nil
}

// Option changes how Start sets up the control plane.
type Option func(*envtest.Environment)

// WithWebhooks installs the generated webhook configuration (config/webhook/manifests.yaml),
// rewritten by envtest to call a local server with a certificate envtest generates: serve it
// at WebhookInstallOptions.LocalServingHost, LocalServingPort and LocalServingCertDir.
func WithWebhooks() Option {
	return func(e *envtest.Environment) {
		e.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(RepoRoot(), "config", "webhook", "manifests.yaml")},
		}
	}
}

// Start starts a control plane with the CRDs from config/crd/bases installed.
func Start(opts ...Option) (*Env, error) {
	dir, err := binaryDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	for _, o := range opts {
		o(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane from %s: %w", dir, err)
	}
	s := Scheme()
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	e := &Env{Environment: env, Config: cfg, Client: c, Scheme: s}
	if path := os.Getenv("KUBE_MULTIPATH_TEST_ENV_KUBECONFIG"); path != "" {
		if err := e.WriteKubeconfig(path); err != nil {
			return nil, errors.Join(err, env.Stop())
		}
	}
	return e, nil
}

// WriteKubeconfig writes an administrator kubeconfig for the control plane to path.
func (e *Env) WriteKubeconfig(path string) error {
	user, err := e.ControlPlane.AddUser(envtest.User{Name: "kube-multipath-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, kubeconfig, 0o600)
}

// Stop stops the control plane unless KUBE_MULTIPATH_TEST_ENV_SKIP_STOP=true.
func (e *Env) Stop() error {
	for i := len(e.onStop) - 1; i >= 0; i-- {
		e.onStop[i]()
	}
	e.onStop = nil
	if os.Getenv("KUBE_MULTIPATH_TEST_ENV_SKIP_STOP") == "true" {
		return nil
	}
	return e.Environment.Stop()
}

// Run is the body of a package's TestMain: it starts the control plane, hands it to setup (which
// keeps it in a package variable and may start controllers), runs the tests and stops it.
func Run(m *testing.M, setup func(*Env) error) int {
	env, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	if setup != nil {
		if err := setup(env); err != nil {
			fmt.Fprintln(os.Stderr, "testenv setup:", err)
			_ = env.Stop()
			return 1
		}
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv stop:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Node returns a Node object with the given name and labels, for tests that need nodes.
func Node(name string, labels map[string]string) *corev1.Node {
	n := &corev1.Node{}
	n.Name = name
	n.Labels = labels
	return n
}

// Eventually calls f every 50 ms until it returns nil, and fails t with f's last error if it
// has not within timeout.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
