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

// Package metricsauth guards the metrics endpoints of the manager and the agent the way
// controller-runtime's filters.WithAuthenticationAndAuthorization does: the caller's bearer token
// is checked by a TokenReview, the request (verb and path) by a SubjectAccessReview, with the
// same cache times, retries and answers (401, 403, 500). It exists because that filter links
// k8s.io/apiserver's whole authentication and authorization stack (CEL, OpenTelemetry, every
// authenticator): about 19 MiB of code mapped by each binary, which was a third of an idle
// agent's memory on every node (docs/performance.md). What it leaves out, on purpose: anonymous
// requests (refused, as there), tokens in WebSocket subprotocols (a metrics scrape sends a header)
// and API audiences (the API server's default audience, as there).
package metricsauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
)

// Options are the cache times and retries; Defaults are controller-runtime's.
type Options struct {
	// TokenTTL is how long a TokenReview's answer (either way) is reused.
	TokenTTL time.Duration
	// AllowTTL and DenyTTL are how long a SubjectAccessReview's answer is reused.
	AllowTTL, DenyTTL time.Duration
	// Timeout bounds each review request.
	Timeout time.Duration
	// Retry is the backoff for a review request that failed without an answer.
	Retry wait.Backoff
}

// Defaults are the values of controller-runtime's filter (and of kube-rbac-proxy's).
var Defaults = Options{
	TokenTTL: time.Minute,
	AllowTTL: 5 * time.Minute,
	DenyTTL:  30 * time.Second,
	Timeout:  10 * time.Second,
	Retry:    wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5},
}

// cacheSize bounds each cache: scrapers are a handful of identities.
const cacheSize = 1024

// Filter wraps a metrics handler; it is controller-runtime's metricsserver.Filter, which the
// agent does not import (internal/kubeclient says why).
type Filter = func(log logr.Logger, next http.Handler) (http.Handler, error)

// reviewCodecs encode and decode the two review kinds, and nothing else: the typed clientsets
// link the scheme of every built-in kind.
var reviewCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{authenticationv1.AddToScheme, authorizationv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s)
}()

// New returns the filter with the given options; its reviews go through httpClient.
func New(cfg *rest.Config, httpClient *http.Client, o Options) (Filter, error) {
	authn, err := kubeclient.RESTClient(cfg, httpClient, authenticationv1.SchemeGroupVersion, reviewCodecs)
	if err != nil {
		return nil, err
	}
	authz, err := kubeclient.RESTClient(cfg, httpClient, authorizationv1.SchemeGroupVersion, reviewCodecs)
	if err != nil {
		return nil, err
	}
	g := &guard{
		authn: authn, authz: authz, o: o,
		users: cache.NewLRUExpireCache(cacheSize), decisions: cache.NewLRUExpireCache(cacheSize),
	}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			g.serve(log, next, w, req)
		}), nil
	}, nil
}

type guard struct {
	authn, authz rest.Interface
	o            Options
	users        *cache.LRUExpireCache // sha256 of the token -> *authenticationv1.UserInfo (nil: refused)
	decisions    *cache.LRUExpireCache // the review's spec as a string -> decision
}

type decision struct {
	allowed bool
	reason  string
}

func (g *guard) serve(log logr.Logger, next http.Handler, w http.ResponseWriter, req *http.Request) {
	token, ok := bearer(req)
	if !ok {
		log.V(4).Info("Authentication failed: no bearer token")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	user, err := g.authenticate(req.Context(), token)
	if err != nil {
		log.Error(err, "Authentication failed")
		http.Error(w, "Authentication failed", http.StatusInternalServerError)
		return
	}
	if user == nil {
		log.V(4).Info("Authentication failed")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	d, err := g.authorize(req.Context(), user, strings.ToLower(req.Method), req.URL.Path)
	if err != nil {
		msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
		log.Error(err, msg)
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	if !d.allowed {
		msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
		log.V(4).Info(msg, "reason", d.reason)
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	// The token is the caller's credential, not the handler's business.
	req.Header.Del("Authorization")
	next.ServeHTTP(w, req)
}

// bearer reads "Authorization: Bearer <token>" as the API server does.
func bearer(req *http.Request) (string, bool) {
	parts := strings.SplitN(strings.TrimSpace(req.Header.Get("Authorization")), " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}

// authenticate returns who the token belongs to, nil for a token the API server refuses.
func (g *guard) authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, error) {
	key := sha256.Sum256([]byte(token))
	if v, ok := g.users.Get(key); ok {
		return v.(*authenticationv1.UserInfo), nil
	}
	var review *authenticationv1.TokenReview
	err := g.retry(ctx, func(ctx context.Context) error {
		review = &authenticationv1.TokenReview{}
		return g.authn.Post().Resource("tokenreviews").
			Body(&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}).Do(ctx).Into(review)
	})
	if err != nil {
		return nil, fmt.Errorf("TokenReview: %w", err)
	}
	var user *authenticationv1.UserInfo
	if review.Status.Authenticated {
		user = &review.Status.User
	}
	g.users.Add(key, user, g.o.TokenTTL)
	return user, nil
}

// authorize asks whether user may use verb on the non-resource path.
func (g *guard) authorize(ctx context.Context, user *authenticationv1.UserInfo, verb, path string) (decision, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	key := decisionKey(spec)
	if v, ok := g.decisions.Get(key); ok {
		return v.(decision), nil
	}
	var review *authorizationv1.SubjectAccessReview
	err := g.retry(ctx, func(ctx context.Context) error {
		review = &authorizationv1.SubjectAccessReview{}
		return g.authz.Post().Resource("subjectaccessreviews").Body(&authorizationv1.SubjectAccessReview{Spec: spec}).Do(ctx).Into(review)
	})
	if err != nil {
		return decision{}, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	d := decision{allowed: review.Status.Allowed && !review.Status.Denied, reason: review.Status.Reason}
	ttl := g.o.DenyTTL
	if d.allowed {
		ttl = g.o.AllowTTL
	}
	g.decisions.Add(key, d, ttl)
	return d, nil
}

// decisionKey is every field of the review, unambiguously (groups and extra keys sorted).
func decisionKey(s authorizationv1.SubjectAccessReviewSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %q", s.User, s.UID, s.NonResourceAttributes.Verb, s.NonResourceAttributes.Path)
	groups := slices.Sorted(slices.Values(s.Groups))
	fmt.Fprintf(&b, " %q", groups)
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %q=%q", k, []string(s.Extra[k]))
	}
	return b.String()
}

// retry runs f with the timeout per try, again after a failure that is not an answer from the
// API server (a refused review is an answer; a dropped connection or a 5xx is not).
func (g *guard) retry(ctx context.Context, f func(context.Context) error) error {
	return retry.OnError(g.o.Retry, func(err error) bool {
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			code := status.Status().Code
			return code >= http.StatusInternalServerError || code == http.StatusTooManyRequests
		}
		return ctx.Err() == nil
	}, func() error {
		ctx, cancel := context.WithTimeout(ctx, g.o.Timeout)
		defer cancel()
		return f(ctx)
	})
}
