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

package metricsauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/kube-multipath/kube-multipath/internal/metricsauth"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

// counting counts the review requests the filter sends, by path.
type counting struct {
	mu    sync.Mutex
	calls map[string]int
	next  http.RoundTripper
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls[r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *counting) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.calls {
		if strings.HasSuffix(p, "/"+kind) {
			n += k
		}
	}
	return n
}

// filter guards a handler that answers "metrics" and records the Authorization header it saw.
func filter(t *testing.T, cfg *rest.Config, o metricsauth.Options) (http.Handler, *counting, *[]string) {
	t.Helper()
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := &counting{calls: map[string]int{}, next: transport}
	f, err := metricsauth.New(cfg, &http.Client{Transport: calls}, o)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	h, err := f(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("metrics"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h, calls, &seen
}

func get(h http.Handler, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// token creates a service account and returns a token of it from the API server.
func token(t *testing.T, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := env.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr := &authenticationv1.TokenRequest{}
	if err := env.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" {
		t.Fatal("the API server returned no token")
	}
	return tr.Status.Token
}

// allowMetrics binds a ClusterRole allowing GET /metrics (the shape of
// kube-multipath-metrics-reader) to the service account.
func allowMetrics(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metricsauth-" + ns + "-" + name},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
}

// The filter answers as controller-runtime's: 401 without a valid token, 403 without the RBAC
// rule, the handler (without the caller's token) with it; answers are cached.
func TestFilterAgainstTheAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metricsauth"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	denied := token(t, ns.Name, "not-a-reader")
	allowed := token(t, ns.Name, "prometheus")
	allowMetrics(t, ns.Name, "prometheus")

	h, calls, seen := filter(t, env.Config, metricsauth.Defaults)
	for _, c := range []struct {
		name, path, auth string
		code             int
	}{
		{"no header", "/metrics", "", http.StatusUnauthorized},
		{"basic, not bearer", "/metrics", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"empty bearer", "/metrics", "Bearer ", http.StatusUnauthorized},
		{"a token the API server does not know", "/metrics", "Bearer not-a-token", http.StatusUnauthorized},
		{"a service account without the rule", "/metrics", "Bearer " + denied, http.StatusForbidden},
		{"the reader on another path", "/debug/pprof/", "Bearer " + allowed, http.StatusForbidden},
		{"the reader", "/metrics", "Bearer " + allowed, http.StatusOK},
		{"the reader, lower-case scheme", "/metrics", "bearer " + allowed, http.StatusOK},
	} {
		rec := get(h, c.path, c.auth)
		if rec.Code != c.code {
			t.Errorf("%s: got %d %q, want %d", c.name, rec.Code, rec.Body.String(), c.code)
		}
		if c.code == http.StatusForbidden && !strings.Contains(rec.Body.String(), "system:serviceaccount:metricsauth:") {
			t.Errorf("%s: the refusal %q does not name the user", c.name, rec.Body.String())
		}
	}
	if len(*seen) != 2 || (*seen)[0] != "" || (*seen)[1] != "" {
		t.Errorf("the handler ran %d times with Authorization %q; want twice, without the token", len(*seen), *seen)
	}

	// Every answer above is cached: asking again sends no review.
	tokens, reviews := calls.count("tokenreviews"), calls.count("subjectaccessreviews")
	for range 3 {
		get(h, "/metrics", "Bearer "+allowed)
		get(h, "/metrics", "Bearer "+denied)
		get(h, "/metrics", "Bearer not-a-token")
	}
	if n, m := calls.count("tokenreviews"), calls.count("subjectaccessreviews"); n != tokens || m != reviews {
		t.Errorf("cached answers sent reviews again: TokenReviews %d -> %d, SubjectAccessReviews %d -> %d", tokens, n, reviews, m)
	}
	if tokens != 3 || reviews != 3 {
		t.Errorf("sent %d TokenReviews and %d SubjectAccessReviews, want 3 and 3 (one per token, one per user and path)", tokens, reviews)
	}
}

// A deny expires after DenyTTL: a reader bound after a refusal gets in once it has passed.
func TestADenialExpires(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metricsauth-expiry"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	tok := token(t, ns.Name, "late-reader")
	o := metricsauth.Defaults
	o.DenyTTL = 200 * time.Millisecond
	h, _, _ := filter(t, env.Config, o)
	if rec := get(h, "/metrics", "Bearer "+tok); rec.Code != http.StatusForbidden {
		t.Fatalf("before the binding: %d, want 403", rec.Code)
	}
	allowMetrics(t, ns.Name, "late-reader")
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return get(h, "/metrics", "Bearer "+tok).Code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("the reader bound after a refusal never got in: %v", err)
	}
}

// Without an answer from the API server the filter fails closed with 500, after its retries,
// and never runs the handler.
func TestNoAPIServerFailsClosed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	o := metricsauth.Defaults
	o.Retry = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
	h, calls, seen := filter(t, &rest.Config{Host: srv.URL}, o)
	rec := get(h, "/metrics", "Bearer some-token")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got %d %q, want 500", rec.Code, rec.Body.String())
	}
	if len(*seen) != 0 {
		t.Errorf("the handler ran %d times", len(*seen))
	}
	if n := calls.count("tokenreviews"); n != 3 {
		t.Errorf("sent %d TokenReviews, want 3 (the retry's steps)", n)
	}
	// A failure is not cached: the next request asks again.
	get(h, "/metrics", "Bearer some-token")
	if n := calls.count("tokenreviews"); n != 6 {
		t.Errorf("after a second request: %d TokenReviews, want 6", n)
	}
}
