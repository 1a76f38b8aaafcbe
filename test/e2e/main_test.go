//go:build e2e && !cluster

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

// Package e2e runs the real agent on a real node: a QEMU guest with Debian's 6.1 kernel,
// dm-multipath, udev and multipathd, whose two SAN LUNs are each seen through two virtio-scsi
// HBAs. The control plane (envtest's kube-apiserver and etcd) and the real manager run on the
// host, as in test/drills; the guest reaches the API server only through QEMU's restricted user
// network. `make e2e` builds the guest image (hack/e2e/image.sh) and runs this package with the
// e2e build tag, so plain `go test ./...` never sees it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// agentUser is the identity the guest's agent has: bound to the agent's roles from
// config/agent/rbac.yaml, so a permission the DaemonSet lacks fails here too.
const agentUser = "kube-multipath-e2e-agent"

// sys is the system the scenarios run against.
var sys *system

type system struct {
	env        *testenv.Env
	c          client.Client
	dir        string
	kubeconfig string
	mgr        *sim.Manager
	vm         *vm

	// figures are the measurements, printed at the end for docs/performance.md.
	mu      sync.Mutex
	figures []string
}

// figure records a measurement.
func (s *system) figure(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.figures = append(s.figures, fmt.Sprintf(format, args...))
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	begin := time.Now()
	image, err := hostReady()
	dir, closeLog, code, ok := prepare("e2e", "kube-multipath-e2e-", err)
	if !ok {
		return code
	}
	defer closeLog()

	s, err := start(dir, image)
	if s != nil {
		sys = s
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		if s != nil {
			s.stop()
		}
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s\n", dir)
		return 1
	}
	code = m.Run()
	s.collectLogs()
	s.stop()
	report("e2e", fmt.Sprintf("e2e figures (real node: QEMU/TCG guest, %s):", strings.TrimSpace(readOr(filepath.Join(image, "versions.txt"), "?"))),
		s.figures, begin, code, dir, "console.log, manager.log, share/agent.log, share/multipathd.log")
	return code
}

// start builds the binaries, starts the control plane, the manager and the guest.
func start(dir, image string) (*system, error) {
	ctx := context.Background()
	s := &system{dir: dir}
	share := filepath.Join(dir, "share")
	if err := os.MkdirAll(share, 0o755); err != nil {
		return nil, err
	}
	var mgrBin, fwdBin string
	builds := make(chan error, 4)
	go func() {
		var err error
		mgrBin, err = sim.BuildManager(ctx, dir)
		builds <- err
	}()
	// The guest's binaries are static: they run on the guest's own libc-less view of them.
	go func() { builds <- goBuild(ctx, filepath.Join(share, "agent"), "./cmd/agent") }()
	go func() { builds <- goBuild(ctx, filepath.Join(share, "guestd"), "./hack/e2e/guestd") }()
	go func() {
		fwdBin = filepath.Join(dir, "fwd")
		builds <- goBuild(ctx, fwdBin, "./hack/e2e/fwd")
	}()
	certDir := filepath.Join(dir, "apiserver")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	apiLog, err := os.Create(filepath.Join(dir, "apiserver.log"))
	if err != nil {
		return nil, err
	}
	env, err := testenv.Start(testenv.WithWebhooks(), func(e *envtest.Environment) {
		e.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir, Out: apiLog, Err: apiLog}
		e.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	})
	var buildErrs []error
	for range 4 {
		buildErrs = append(buildErrs, <-builds)
	}
	if err != nil {
		return nil, errors.Join(append(buildErrs, err)...)
	}
	s.env, s.c = env, env.Client
	if err := errors.Join(buildErrs...); err != nil {
		return s, err
	}
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(s.kubeconfig); err != nil {
		return s, err
	}
	if err := s.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sim.Namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return s, err
	}
	if err := s.writeGuestKubeconfig(filepath.Join(share, "kubeconfig")); err != nil {
		return s, err
	}
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		return s, err
	}
	apiPort, err := strconv.Atoi(u.Port())
	if err != nil {
		return s, fmt.Errorf("API server address %s: %w", env.Config.Host, err)
	}

	// The guest boots while the manager starts.
	type booted struct {
		v   *vm
		err error
	}
	vmc := make(chan booted, 1)
	go func() {
		v, err := bootVM(ctx, vmConfig{image: image, dir: dir, share: share, fwd: fwdBin, apiPort: apiPort})
		vmc <- booted{v, err}
	}()
	mgrErr := s.startManager(ctx, mgrBin)
	b := <-vmc
	s.vm = b.v
	if b.err != nil || mgrErr != nil {
		return s, errors.Join(b.err, mgrErr)
	}
	s.figure("boot -> guest ready (udev settled, multipathd up, control daemon answering): %.1fs from QEMU start", time.Since(s.vm.started).Seconds())
	return s, nil
}

// startManager starts the real manager binary with the webhook served on envtest's port, as the
// drills do, and waits until the API server calls it.
func (s *system) startManager(ctx context.Context, bin string) error {
	wio := &s.env.WebhookInstallOptions
	s.mgr = &sim.Manager{Bin: bin, Kubeconfig: s.kubeconfig, Log: filepath.Join(s.dir, "manager.log"), Args: []string{
		"--webhook-port=" + strconv.Itoa(wio.LocalServingPort), "--webhook-cert-dir=" + wio.LocalServingCertDir,
		"--webhook-manage-certificates=false",
	}}
	if err := s.mgr.Start(); err != nil {
		return err
	}
	if err := s.mgr.WaitMetrics(ctx); err != nil {
		return err
	}
	probe := &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-webhook-probe"},
		Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600e2eprobe", NodeSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}},
		}},
	}
	return poll(ctx, time.Minute, func() error {
		err := s.c.Create(ctx, probe, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "denied the request") {
			return fmt.Errorf("the webhook is not called yet: %v", err)
		}
		return nil
	})
}

// writeGuestKubeconfig writes the agent's kubeconfig: its own user, bound to the agent's roles,
// reaching the API server at the forward's address. The API server's certificate names
// localhost, which the client is told to expect.
func (s *system) writeGuestKubeconfig(path string) error {
	user, err := s.env.ControlPlane.AddUser(envtest.User{Name: agentUser}, nil)
	if err != nil {
		return err
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return err
	}
	for _, c := range kc.Clusters {
		c.Server = "https://" + guestAPIAddr
		c.TLSServerName = "localhost"
	}
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return err
	}
	return s.bindAgentRoles(context.Background())
}

// bindAgentRoles creates the agent's ClusterRole and Role from config/agent/rbac.yaml and binds
// them to agentUser instead of the DaemonSet's service account.
func (s *system) bindAgentRoles(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "agent", "rbac.yaml"))
	if err != nil {
		return err
	}
	dec := serializer.NewCodecFactory(s.env.Scheme).UniversalDeserializer()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: agentUser}}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("config/agent/rbac.yaml: %w", err)
		}
		switch o := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			o.Subjects = subject
		case *rbacv1.RoleBinding:
			o.Subjects = subject
		}
		co, ok := obj.(client.Object)
		if !ok {
			continue
		}
		if err := s.c.Create(ctx, co); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", obj, co.GetName(), err)
		}
	}
}

// collectLogs copies the guest's multipathd log into the share, beside the agent's.
func (s *system) collectLogs() {
	if s.vm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _ = s.vm.run(ctx, "cp /run/multipathd.log /mnt/host/multipathd.log; dmesg > /mnt/host/dmesg.log")
}

func (s *system) stop() {
	if s.vm != nil {
		s.vm.stop()
	}
	if s.mgr != nil {
		_ = s.mgr.Stop()
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the control plane:", err)
		}
	}
}
