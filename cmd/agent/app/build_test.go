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

package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		return nil
	}))
}

// The agent binary must not link controller-runtime's client, cache or manager, nor client-go's
// typed clientsets: each brings client-go's scheme of every built-in kind, all of k8s.io/api,
// which was the largest part of an idle agent's memory on every node (internal/kubeclient).
func TestAgentLinksOnlyTheKindsItUses(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", filepath.Join(testenv.RepoRoot(), "cmd", "agent")).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var api []string
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "k8s.io/client-go/kubernetes/scheme", pkg == "sigs.k8s.io/controller-runtime",
			strings.HasPrefix(pkg, "sigs.k8s.io/controller-runtime/pkg/client") && pkg != "sigs.k8s.io/controller-runtime/pkg/client/config",
			strings.HasPrefix(pkg, "sigs.k8s.io/controller-runtime/pkg/cache"), strings.HasPrefix(pkg, "sigs.k8s.io/controller-runtime/pkg/manager") && pkg != "sigs.k8s.io/controller-runtime/pkg/manager/signals":
			t.Errorf("cmd/agent links %s", pkg)
		case strings.HasPrefix(pkg, "k8s.io/api/"):
			api = append(api, pkg)
		}
	}
	// core, coordination and events for the agent; authentication and authorization for the
	// metrics endpoint's reviews.
	if len(api) > 5 {
		t.Errorf("cmd/agent links %d packages of k8s.io/api, want at most 5: %v", len(api), api)
	}
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The agent as cmd/agent builds it, against a real API server: it writes its node's status, and
// serves its probes and its metrics (over TLS, behind authentication, when secure).
func TestBuiltAgentReportsAndServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "agent-app"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	start := func(node string, secure bool) Options {
		t.Helper()
		o := DefaultOptions()
		o.NodeName, o.Namespace, o.HostRoot = node, ns.Name, t.TempDir()
		o.MultipathdSocket = filepath.Join(t.TempDir(), "no-multipathd.sock")
		o.RefreshInterval = time.Second
		o.Validate, o.Uevents, o.WatchFiles = false, false, false
		o.MetricsAddr, o.SecureMetrics, o.ProbeAddr = freeAddr(t), secure, freeAddr(t)
		a, err := Build(env.Config, o)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Start(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent of %s: %v", node, err)
			}
		})
		st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: node}}
		if err := env.Client.Create(ctx, st); err != nil {
			t.Fatal(err)
		}
		return o
	}
	secure, plain := start("app-secure", true), start("app-plain", false)

	// No multipathd: the status says so, written through the agent's own client.
	eventually(t, func() error {
		st := &mpv1alpha1.MultipathNodeState{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "app-plain"}, st); err != nil {
			return err
		}
		c := conditions.Get(st, mpv1alpha1.ReadyCondition)
		if c == nil || c.Reason != mpv1alpha1.MultipathdUnavailableReason || st.Status.ObservedGeneration != st.Generation {
			return fmt.Errorf("status %+v", st.Status)
		}
		return nil
	})

	get := func(c *http.Client, url string) (int, string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	for _, o := range []Options{secure, plain} {
		for _, path := range []string{"/healthz", "/readyz", "/readyz/ping"} {
			eventually(t, func() error {
				if code, body, err := get(http.DefaultClient, "http://"+o.ProbeAddr+path); err != nil || code != http.StatusOK || body != "ok" {
					return fmt.Errorf("%s: %d %q %v", path, code, body, err)
				}
				return nil
			})
		}
	}
	eventually(t, func() error {
		code, body, err := get(http.DefaultClient, "http://"+plain.MetricsAddr+"/metrics")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("plain metrics: %d %v", code, err)
		}
		for _, m := range []string{"kube_multipath_agent_multipathd_up 0", "kube_multipath_agent_status_writes_total", "go_goroutines", "process_resident_memory_bytes"} {
			if !strings.Contains(body, m) {
				return fmt.Errorf("plain metrics without %s", m)
			}
		}
		return nil
	})
	// Secure: TLS (HTTP/1.1 only), and no answer without a bearer token the API server accepts.
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}}}
	eventually(t, func() error {
		resp, err := tlsClient.Get("https://" + secure.MetricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.ProtoMajor != 1 {
			return fmt.Errorf("secure metrics without a token: %s %s, want 401 over HTTP/1.1", resp.Proto, resp.Status)
		}
		return nil
	})
	if code, _, err := get(http.DefaultClient, "http://"+secure.MetricsAddr+"/metrics"); err == nil && code == http.StatusOK {
		t.Errorf("secure metrics answered over plain HTTP")
	}
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, f)
}
