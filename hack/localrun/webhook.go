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
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/testenv"
	mpwebhook "github.com/kube-multipath/kube-multipath/internal/webhook"
)

// localWebhook is the admission webhook as make run installs it: the manager serves it with the
// certificate its own rotator issues (as in a cluster), and the local API server calls it by URL
// at https://localhost:<port>, a name the certificate covers (ExtraDNSNames), since there is no
// Service routing without a cluster network.
type localWebhook struct {
	port    int
	certDir string
}

// url is where the API server calls the webhook.
func (w localWebhook) url() string { return "https://localhost:" + strconv.Itoa(w.port) }

// installWebhook creates the empty certificate Secret (config/webhook/secret.yaml) and the
// webhook configuration of config/webhook/manifests.yaml, named as config/webhook names it,
// calling url instead of the Service and with no CA bundle: the manager's rotator fills the
// Secret and injects its CA.
func installWebhook(ctx context.Context, c client.Client, dir string) (localWebhook, error) {
	port, err := freePort()
	if err != nil {
		return localWebhook{}, err
	}
	w := localWebhook{port: port, certDir: filepath.Join(dir, "webhook-certs")}
	if err := os.MkdirAll(w.certDir, 0o700); err != nil {
		return w, err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: mpwebhook.DefaultSecretName, Namespace: namespace}}
	if err := c.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return w, err
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "webhook", "manifests.yaml"))
	if err != nil {
		return w, err
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(bytes.TrimPrefix(data, []byte("---\n")), vwc); err != nil {
		return w, fmt.Errorf("config/webhook/manifests.yaml: %w", err)
	}
	vwc.ObjectMeta = metav1.ObjectMeta{Name: mpwebhook.DefaultWebhookConfigName}
	for i := range vwc.Webhooks {
		wh := &vwc.Webhooks[i]
		if wh.ClientConfig.Service == nil || wh.ClientConfig.Service.Path == nil {
			return w, fmt.Errorf("config/webhook/manifests.yaml: webhook %s calls no Service path", wh.Name)
		}
		wh.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(w.url() + *wh.ClientConfig.Service.Path)}
	}
	if err := c.Create(ctx, vwc); err != nil {
		return w, err
	}
	return w, nil
}

// projectSecret does the kubelet's part: it copies the serving certificate and key of the
// rotator's Secret into certDir whenever they change, as the kubelet updates a mounted Secret.
// It returns when ctx ends.
func projectSecret(ctx context.Context, c client.Client, certDir string) {
	var last []byte
	for {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: mpwebhook.DefaultSecretName}, s); err == nil {
			crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
			both := append(append([]byte{}, crt...), key...)
			if len(crt) > 0 && len(key) > 0 && !bytes.Equal(both, last) &&
				os.WriteFile(filepath.Join(certDir, corev1.TLSPrivateKeyKey), key, 0o600) == nil &&
				os.WriteFile(filepath.Join(certDir, corev1.TLSCertKey), crt, 0o600) == nil {
				last = both
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
