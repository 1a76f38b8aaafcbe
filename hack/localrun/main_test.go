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

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/internal/testing/realdaemon"
	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMakeRunHeadless drives `make run`'s entry point: it waits until the system is up, checks
// the files every simulated node's agent wrote and the status matrix, then stops it.
func TestMakeRunHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane, the manager and three agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	var got started
	readyCalled := false
	// san-node-3 runs the real multipathd wherever this machine can (and CI must).
	wantReal := realdaemon.Available()
	if wantReal != nil && os.Getenv("CI") == "true" {
		t.Errorf("CI must run the real multipathd for san-node-3: %v", wantReal)
	}
	var refused, realNode, webhookCert error
	sampleLUNs := -1
	// What each node's agent wrote, read while running: the folder goes when run returns.
	baselines, wwidFiles := map[string]string{}, map[string]string{}
	err := run(ctx, out, "0", "0", t.TempDir(), func(s started) {
		readyCalled = true
		got = s
		c, err := client.New(s.restConfig, client.Options{Scheme: testenv.Scheme()})
		if err != nil {
			t.Errorf("client: %v", err)
			cancel()
			return
		}
		// The admission webhook is live: a second LUN claiming the sample's alias is refused.
		dup := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "dup"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0980000000000000000000000099", Alias: sampleAlias}}
		refused = c.Create(ctx, dup, client.DryRunAll)
		webhookCert = checkWebhookCertificate(ctx, c, s.webhook)
		luns := &mpv1alpha1.MultipathWWIDList{}
		if err := c.List(ctx, luns); err == nil {
			sampleLUNs = len(luns.Items)
		}
		for _, n := range s.nodes {
			if n.real != nil {
				realNode = checkRealDaemonNode(ctx, c, n)
			}
			confd := filepath.Join(n.hostRoot, "etc", "multipath")
			if b, err := os.ReadFile(filepath.Join(confd, "conf.d", "99-kube-multipath.conf")); err == nil {
				baselines[n.name] = string(b)
			}
			if b, err := os.ReadFile(filepath.Join(confd, "wwids")); err == nil {
				wwidFiles[n.name] = string(b)
			}
		}
		cancel() // stop cleanly once up; the checks below read what it left
	})
	if refused == nil || !strings.Contains(refused.Error(), "denied the request") || !strings.Contains(refused.Error(), sampleAlias) {
		t.Errorf("a duplicate alias must be refused by the admission webhook, got %v", refused)
	}
	if webhookCert != nil {
		t.Errorf("the webhook's certificate: %v", webhookCert)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !readyCalled {
		t.Fatalf("run returned before the system was up:\n%s", out)
	}
	if len(got.nodes) != 3 {
		t.Fatalf("%d simulated nodes, want 3", len(got.nodes))
	}
	for _, n := range got.nodes {
		base, ok := baselines[n.name]
		if !ok {
			t.Errorf("%s: the agent did not write the baseline", n.name)
			continue
		}
		if !strings.Contains(base, `alias "oradata01"`) || !strings.Contains(base, "blacklist_exceptions {") {
			t.Errorf("%s: baseline lacks the sample LUN or the invariants:\n%s", n.name, base)
		}
		if wwids := wwidFiles[n.name]; !strings.Contains(wwids, "/"+sampleWWID+"/") {
			t.Errorf("%s: /etc/multipath/wwids lacks the sample WWID:\n%s", n.name, wwids)
		}
	}
	// Stopping removes the temporary folder (host roots, kubeconfig, certificates).
	if _, err := os.Stat(filepath.Dir(got.kubeconfig)); !os.IsNotExist(err) {
		t.Errorf("the temporary folder %s is left after run returned (%v)", filepath.Dir(got.kubeconfig), err)
	}
	// Which multipathd each node ran, said in the output.
	wantLabel := map[string]string{"san-node-1": labelFake, "san-node-2": labelFake, "san-node-3": labelReal}
	if wantReal != nil {
		wantLabel["san-node-3"] = labelFake
		t.Logf("san-node-3 runs the fake multipathd: %v", wantReal)
	}
	text := out.String()
	for _, n := range got.nodes {
		if n.daemonLabel != wantLabel[n.name] {
			t.Errorf("%s ran %q, want %q (%s)", n.name, n.daemonLabel, wantLabel[n.name], n.whyFake)
		}
		if line := "  " + n.name + ": " + wantLabel[n.name]; !strings.Contains(text, line) {
			t.Errorf("output lacks %q:\n%s", line, text)
		}
		if line := "  " + n.name + " [" + wantLabel[n.name] + "]: "; !strings.Contains(text, line) {
			t.Errorf("output lacks %q:\n%s", line, text)
		}
		if n.real != nil {
			if realNode != nil {
				t.Errorf("%s, on the real multipathd: %v", n.name, realNode)
			}
			select {
			case <-n.real.Exited():
			default:
				t.Errorf("%s: the real multipathd still runs after run returned", n.name)
			}
		}
	}
	for _, want := range []string{
		fmt.Sprintf("Rendered %d LUNs", sampleLUNs), // the render it prints holds every sample
		"kubectl multipath status:",
		"oradata01",
		"FAIL 0/1", // san-node-2's recorded map has its only path faulty
		"export KUBECONFIG=" + got.kubeconfig,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// checkRealDaemonNode checks the node that runs the real multipathd: its MultipathNodeState
// reports the desired config applied (Ready, reason Applied), and the daemon itself, asked on
// its socket, runs the sample LUN's alias: the agent's drop-ins reached it by a reconfigure.
func checkRealDaemonNode(ctx context.Context, c client.Client, n simulatedNode) error {
	ns := &mpv1alpha1.MultipathNodeState{}
	if err := c.Get(ctx, client.ObjectKey{Name: n.name}, ns); err != nil {
		return err
	}
	desired, applied := ns.Spec.DesiredConfig, ns.Status.AppliedConfig
	if desired == nil || applied == nil || applied.Hash != desired.Hash {
		return fmt.Errorf("MultipathNodeState: desired %+v, applied %+v, want both, the same", desired, applied)
	}
	ready := meta.FindStatusCondition(ns.Status.Conditions, mpv1alpha1.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != mpv1alpha1.AppliedReason {
		return fmt.Errorf("MultipathNodeState Ready condition %+v, want True, %s", ready, mpv1alpha1.AppliedReason)
	}
	daemon := &multipathd.SocketClient{Address: n.daemonAddress, Timeout: 5 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := daemon.Command(ctx, "show", "config")
		if err == nil {
			var cfg *mptest.Config
			if cfg, err = mptest.ParseOutput(string(out)); err == nil {
				if alias := cfg.Multipaths[sampleWWID].Get("alias"); alias == sampleAlias {
					return nil
				}
				err = fmt.Errorf("multipath %s has alias %q, want %q", sampleWWID, cfg.Multipaths[sampleWWID].Get("alias"), sampleAlias)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("multipathd's show config: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkWebhookCertificate checks that the webhook is served with the manager's own certificate:
// the CA its rotator wrote into the Secret is the caBundle of every webhook of the
// configuration, and the served certificate verifies against it for localhost, the host the
// API server calls.
func checkWebhookCertificate(ctx context.Context, c client.Client, wh localWebhook) error {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: mpwebhook.DefaultSecretName}, secret); err != nil {
		return err
	}
	ca := secret.Data["ca.crt"]
	if len(ca) == 0 {
		return fmt.Errorf("Secret %s holds no ca.crt: the rotator did not fill it", secret.Name)
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: mpwebhook.DefaultWebhookConfigName}, vwc); err != nil {
		return err
	}
	for _, w := range vwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, ca) {
			return fmt.Errorf("webhook %s does not trust the rotator's CA", w.Name)
		}
		if w.ClientConfig.URL == nil || !strings.HasPrefix(*w.ClientConfig.URL, wh.url()+"/") {
			return fmt.Errorf("webhook %s calls %v, want %s", w.Name, w.ClientConfig.URL, wh.url())
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return fmt.Errorf("ca.crt holds no certificate")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(wh.port)),
		&tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		return fmt.Errorf("the served certificate: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if issuer := conn.ConnectionState().PeerCertificates[0].Issuer.CommonName; issuer != "kube-multipath-webhook-ca" {
		return fmt.Errorf("the served certificate is issued by %q, want the rotator's kube-multipath-webhook-ca", issuer)
	}
	return nil
}
