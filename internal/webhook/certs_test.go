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
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"sigs.k8s.io/controller-runtime/pkg/healthz"

	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

const rotatorLabel = "kube-multipath.io/rotator-test"

// freePort is a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(deadAddress(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// projectSecret does the kubelet's part: it copies the Secret's tls.crt and tls.key into dir
// whenever they change, until the test ends.
func projectSecret(t *testing.T, key client.ObjectKey, dir string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		var last []byte
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			s := &corev1.Secret{}
			if err := k8s.Get(ctx, key, s); err != nil {
				continue
			}
			crt, tlsKey := s.Data["tls.crt"], s.Data["tls.key"]
			if len(crt) == 0 || len(tlsKey) == 0 || bytes.Equal(last, append(append([]byte{}, crt...), tlsKey...)) {
				continue
			}
			if os.WriteFile(filepath.Join(dir, "tls.key"), tlsKey, 0o600) != nil || os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600) != nil {
				continue
			}
			last = append(append([]byte{}, crt...), tlsKey...)
		}
	}()
}

// servedCertificate dials the server and verifies its certificate against caBundle for name.
func servedCertificate(addr string, caBundle []byte, name string) (*x509.Certificate, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return nil, errors.New("the CA bundle holds no certificate")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: name})
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// TestCertificateRotator runs the manager's own certificate management against the real API
// server: the rotator fills an empty Secret, injects the CA into the webhook configuration, the
// readiness check passes only once the certificate is served, and the API server then calls
// the webhook over TLS trusting that CA. A renewed serving certificate keeps admission working
// throughout; a new CA works again once the new certificate is served.
func TestCertificateRotator(t *testing.T) {
	ctx := context.Background()
	const secretName, configName = "rotator-test-cert", "rotator-test-webhook"
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	certDir := t.TempDir()

	// The generated webhooks, called by URL at localhost:port for this test's labelled objects,
	// with no CA bundle: the rotator has to put it there.
	vwc := testEnv.WebhookInstallOptions.ValidatingWebhooks[0].DeepCopy()
	vwc.ObjectMeta = metav1.ObjectMeta{Name: configName}
	for i := range vwc.Webhooks {
		wh := &vwc.Webhooks[i]
		path := (*wh.ClientConfig.URL)[strings.Index(*wh.ClientConfig.URL, "/validate-"):]
		wh.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://localhost:" + strconv.Itoa(port) + path)}
		wh.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{rotatorLabel: "true"}}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: secretName}}
	create(t, vwc, secret)
	projectSecret(t, client.ObjectKeyFromObject(secret), certDir)

	admit := func() error {
		w := lun("rotator-probe", "3600a0980383030534530000000r0t1", withLabel(rotatorLabel, "true"))
		return k8s.Create(ctx, w, client.DryRunAll)
	}
	// Nothing serves yet: the configuration is in force and fails closed.
	eventually(t, func() error {
		if err := admit(); err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			return fmt.Errorf("the API server does not call the test configuration yet: %v", err)
		}
		return nil
	})

	ready := startRotatorManager(t, secretName, configName, certDir, port)
	if err := ready(nil); err == nil || !strings.Contains(err.Error(), "the webhook certificate is not ready") {
		t.Errorf("ready before any certificate exists: %v", err)
	}

	started := time.Now()
	eventually(t, func() error { return ready(nil) })
	t.Logf("ready %v after start", time.Since(started).Round(time.Millisecond))

	caBundle := func() ([]byte, error) {
		cur := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: configName}, cur); err != nil {
			return nil, err
		}
		for _, wh := range cur.Webhooks[1:] {
			if !bytes.Equal(wh.ClientConfig.CABundle, cur.Webhooks[0].ClientConfig.CABundle) {
				return nil, fmt.Errorf("webhook %s has another CA bundle than %s", wh.Name, cur.Webhooks[0].Name)
			}
		}
		return cur.Webhooks[0].ClientConfig.CABundle, nil
	}
	secretCA := func() []byte {
		s := &corev1.Secret{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(secret), s); err != nil {
			t.Fatal(err)
		}
		return s.Data["ca.crt"]
	}
	ca, err := caBundle()
	if err != nil {
		t.Fatal(err)
	}
	if len(ca) == 0 || !bytes.Equal(ca, secretCA()) {
		t.Fatalf("the CA bundle of %s is not the Secret's CA", configName)
	}
	first, err := servedCertificate(addr, ca, "localhost")
	if err != nil {
		t.Fatalf("the served certificate does not verify against the injected CA: %v", err)
	}
	if _, err := servedCertificate(addr, ca, mpwebhook.DefaultServiceName+"."+namespace+".svc"); err != nil {
		t.Errorf("the certificate does not cover the Service name: %v", err)
	}
	eventually(t, admit)

	t.Run("a renewed serving certificate keeps admission working", func(t *testing.T) {
		dropFromSecret(t, client.ObjectKeyFromObject(secret), "tls.crt", "tls.key")
		var renewed *x509.Certificate
		requests := 0
		eventually(t, func() error {
			// Every request in between is admitted: the CA does not change.
			requests++
			if err := admit(); err != nil {
				t.Fatalf("admission failed during the renewal: %v", err)
			}
			c, err := servedCertificate(addr, ca, "localhost")
			if err != nil {
				t.Fatalf("the served certificate stopped verifying: %v", err)
			}
			// The rotator numbers every certificate 1: compare the certificates themselves.
			if bytes.Equal(c.Raw, first.Raw) {
				return errors.New("the old certificate is still served")
			}
			renewed = c
			return nil
		})
		if now, err := caBundle(); err != nil || !bytes.Equal(now, ca) {
			t.Errorf("the CA bundle changed on a serving certificate renewal (%v)", err)
		}
		t.Logf("certificate %s renewed to %s; %d requests admitted meanwhile", fingerprint(first), fingerprint(renewed), requests)
	})

	t.Run("a new CA works once the new certificate is served", func(t *testing.T) {
		dropFromSecret(t, client.ObjectKeyFromObject(secret), "ca.crt", "ca.key", "tls.crt", "tls.key")
		var newCA []byte
		eventually(t, func() error {
			b, err := caBundle()
			if err != nil {
				return err
			}
			if len(b) == 0 || bytes.Equal(b, ca) {
				return errors.New("the old CA is still injected")
			}
			newCA = b
			return nil
		})
		if !bytes.Equal(newCA, secretCA()) {
			t.Errorf("the injected CA is not the Secret's")
		}
		refused := 0
		eventually(t, func() error {
			if err := admit(); err != nil {
				refused++
				return err
			}
			_, err := servedCertificate(addr, newCA, "localhost")
			return err
		})
		t.Logf("%d requests refused while the new certificate was being projected", refused)
	})
}

// startRotatorManager runs a manager serving the webhook on port, with the certificate rotator
// keeping secretName and configName, until the test ends. It returns the readiness check.
func startRotatorManager(t *testing.T, secretName, configName, certDir string, port int) healthz.Checker {
	t.Helper()
	mgr, err := newManager()
	if err != nil {
		t.Fatal(err)
	}
	ready, err := mpwebhook.SetupWithManager(mgr, mpwebhook.Options{
		Namespace: namespace, ServiceName: mpwebhook.DefaultServiceName, SecretName: secretName, WebhookConfigName: configName,
		CertDir: certDir, Host: "127.0.0.1", Port: port, ManageCertificates: true, ExtraDNSNames: []string{"localhost"},
		RotatorName: "cert-rotator-" + strconv.Itoa(port), // unique in the process, also when tests run again (-count)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return ready
}

// TestCertificateRotatorReplicas starts two replicas at once on one empty Secret, as a
// Deployment of two does: one CA and one certificate win, both replicas serve it, and the
// webhook configuration trusts it.
func TestCertificateRotatorReplicas(t *testing.T) {
	ctx := context.Background()
	const secretName, configName = "replicas-test-cert", "replicas-test-webhook"
	vwc := testEnv.WebhookInstallOptions.ValidatingWebhooks[0].DeepCopy()
	vwc.ObjectMeta = metav1.ObjectMeta{Name: configName}
	for i := range vwc.Webhooks {
		// Kept by the rotators, called for nothing.
		vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://localhost:1/unused")}
		vwc.Webhooks[i].ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{rotatorLabel: "never"}}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: secretName}}
	create(t, vwc, secret)
	var readies []healthz.Checker
	var addrs []string
	for range 2 {
		dir, port := t.TempDir(), freePort(t)
		projectSecret(t, client.ObjectKeyFromObject(secret), dir)
		readies = append(readies, startRotatorManager(t, secretName, configName, dir, port))
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	for i, ready := range readies {
		eventually(t, func() error { return ready(nil) })
		t.Logf("replica %d ready", i)
	}
	cur := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: configName}, cur); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(secret), s); err != nil {
		t.Fatal(err)
	}
	ca := cur.Webhooks[0].ClientConfig.CABundle
	if len(ca) == 0 || !bytes.Equal(ca, s.Data["ca.crt"]) {
		t.Fatal("the webhook configuration does not trust the Secret's CA")
	}
	var served [][]byte
	for i, addr := range addrs {
		c, err := servedCertificate(addr, ca, "localhost")
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		served = append(served, c.Raw)
	}
	if !bytes.Equal(served[0], served[1]) {
		t.Error("the replicas serve different certificates")
	}
}

// dropFromSecret removes keys from the Secret, as an expired or damaged one would lack them.
func dropFromSecret(t *testing.T, key client.ObjectKey, keys ...string) {
	t.Helper()
	eventually(t, func() error {
		s := &corev1.Secret{}
		if err := k8s.Get(context.Background(), key, s); err != nil {
			return err
		}
		for _, k := range keys {
			delete(s.Data, k)
		}
		return k8s.Update(context.Background(), s)
	})
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:4])
}
