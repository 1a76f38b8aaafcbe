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

package webhook

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Paths the webhooks are served on (the +kubebuilder:webhook markers name the same).
const (
	MultipathWWIDPath   = "/validate-multipath-kube-multipath-io-v1alpha1-multipathwwid"
	MultipathConfigPath = "/validate-multipath-kube-multipath-io-v1alpha1-multipathconfig"
)

// Defaults of Options, matching config/webhook.
const (
	DefaultServiceName       = "kube-multipath-webhook"
	DefaultSecretName        = "kube-multipath-webhook-cert"
	DefaultWebhookConfigName = "kube-multipath-validating-webhook"
	DefaultPort              = 9443
	// RotatorControllerName names the certificate rotator's controller (names are unique per process).
	RotatorControllerName = "kube-multipath-cert-rotator"
)

// DefaultCertDir is where the serving certificate is read, as config/webhook mounts the Secret.
var DefaultCertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")

// Options configure the webhook server and its certificates.
type Options struct {
	// Namespace holds the Service and the certificate Secret: the operator's namespace.
	Namespace string
	// ServiceName is the Service the API server calls; the certificate is issued for
	// <ServiceName>.<Namespace>.svc.
	ServiceName string
	// SecretName is the Secret holding the CA and the serving certificate. With
	// ManageCertificates it must exist (config/webhook ships it empty); the manager fills it.
	SecretName string
	// WebhookConfigName is the ValidatingWebhookConfiguration whose caBundle the manager keeps.
	WebhookConfigName string
	// CertDir is where tls.crt and tls.key are read (the Secret, mounted). The server starts once
	// they exist, and reloads them when they change.
	CertDir string
	// Host and Port are where the server listens; Host empty means every address. A negative
	// Port disables the webhook: nothing is served, no certificate is managed (for a manager
	// run where no webhook configuration points at it).
	Host string
	Port int
	// ManageCertificates runs the built-in certificate rotator: it creates a CA and a serving
	// certificate into the Secret, renews them before they expire, and injects the CA into the
	// webhook configuration. Off when cert-manager does it (config/certmanager).
	ManageCertificates bool
	// ExtraDNSNames are further names the managed certificate covers (for a webhook reached by URL).
	ExtraDNSNames []string
	// RotatorName names the certificate rotator's controller; controller names are unique in a
	// process. RotatorControllerName when empty.
	RotatorName string
}

// DefaultOptions are the options of a deployed manager in namespace.
func DefaultOptions(namespace string) Options {
	return Options{
		Namespace:          namespace,
		ServiceName:        DefaultServiceName,
		SecretName:         DefaultSecretName,
		WebhookConfigName:  DefaultWebhookConfigName,
		CertDir:            DefaultCertDir,
		Port:               DefaultPort,
		ManageCertificates: true,
	}
}

// BindFlags registers the options on a flag set. Namespace is not bound: the manager's
// --namespace sets it.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.Port, "webhook-port", o.Port, "Port of the admission webhook server; -1 disables the webhook.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", o.CertDir, "Directory holding the webhook's tls.crt and tls.key (the mounted Secret).")
	fs.BoolVar(&o.ManageCertificates, "webhook-manage-certificates", o.ManageCertificates,
		"Create and rotate the webhook's CA and serving certificate in the Secret and inject the CA into the webhook configuration; false when cert-manager does it.")
	fs.StringVar(&o.ServiceName, "webhook-service-name", o.ServiceName, "Service through which the API server calls the webhook.")
	fs.StringVar(&o.SecretName, "webhook-secret-name", o.SecretName, "Secret holding the webhook's CA and serving certificate.")
	fs.StringVar(&o.WebhookConfigName, "webhook-config-name", o.WebhookConfigName, "ValidatingWebhookConfiguration whose caBundle is kept.")
}

func (o *Options) validate() error {
	var errs []error
	if o.CertDir == "" {
		errs = append(errs, errors.New("a certificate directory"))
	}
	if o.Port == 0 {
		errs = append(errs, errors.New("a port"))
	}
	if o.ManageCertificates && (o.Namespace == "" || o.ServiceName == "" || o.SecretName == "" || o.WebhookConfigName == "") {
		errs = append(errs, errors.New("a namespace, Service, Secret and webhook configuration name to manage certificates"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("the webhook needs %w", errors.Join(errs...))
	}
	return nil
}

// The certificate rotator reads webhook configurations and the Secrets of the operator's
// namespace through a cache, and writes only its own webhook configuration and Secret.
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=update,resourceNames=kube-multipath-validating-webhook
// +kubebuilder:rbac:groups="",namespace=kube-multipath-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=kube-multipath-system,resources=secrets,verbs=update,resourceNames=kube-multipath-webhook-cert
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs;multipathwwids,verbs=get;list;watch

// SetupWithManager registers the validators on a webhook server of their own, served by mgr on
// every replica (no leader election), reading other objects from mgr's cache, whose field
// indexes index.AddDefaultIndexes must have registered (index.WWIDNames, index.PVConsumers).
//
// With ManageCertificates the certificate rotator runs on every replica too; the server starts
// once the certificate is in CertDir and its CA is in the webhook configuration. The returned
// checker fails until the server serves; add it as a readiness check so that the Service sends
// the API server only to replicas that can answer.
func SetupWithManager(mgr ctrl.Manager, o Options) (healthz.Checker, error) {
	if o.Port < 0 {
		ctrl.Log.WithName("webhook").Info("Admission webhook disabled")
		return healthz.Ping, nil
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	// The version check (versions.go) reads Nodes and MultipathNodeStates: their informers start
	// with the manager rather than on the first admission request, inside its timeout.
	for _, o := range []client.Object{&corev1.Node{}, &mpv1alpha1.MultipathNodeState{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, o); err != nil {
			return nil, fmt.Errorf("getting the %T informer: %w", o, err)
		}
	}

	srv := crwebhook.NewServer(crwebhook.Options{
		Host:    o.Host,
		Port:    o.Port,
		CertDir: o.CertDir,
		// HTTP/2 stays off, as on the metrics endpoint (rapid-reset and stream-cancellation CVEs).
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	})
	c := mgr.GetClient()
	srv.Register(MultipathWWIDPath, admission.WithValidator[*mpv1alpha1.MultipathWWID](mgr.GetScheme(), &MultipathWWIDValidator{Reader: c, Recorder: mgr.GetEventRecorder("kube-multipath-webhook")}))
	srv.Register(MultipathConfigPath, admission.WithValidator[*mpv1alpha1.MultipathConfig](mgr.GetScheme(), &MultipathConfigValidator{Reader: c}))

	ready := make(chan struct{})
	if o.ManageCertificates {
		svc := o.ServiceName + "." + o.Namespace
		if err := rotator.AddRotator(mgr, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: o.Namespace, Name: o.SecretName},
			CertDir:        o.CertDir,
			CAName:         "kube-multipath-webhook-ca",
			CAOrganization: "kube-multipath",
			DNSName:        svc + ".svc",
			ExtraDNSNames:  append([]string{o.ServiceName, svc, svc + ".svc.cluster.local"}, o.ExtraDNSNames...),
			IsReady:        ready,
			Webhooks:       []rotator.WebhookInfo{{Name: o.WebhookConfigName, Type: rotator.Validating}},
			FieldOwner:     "kube-multipath-manager",
			// Every replica serves admission, so every replica keeps its certificate.
			RequireLeaderElection: false,
			// The CA is injected only once this replica sees the certificate files.
			EnableReadinessCheck: true,
			ControllerName:       cmp.Or(o.RotatorName, RotatorControllerName),
		}); err != nil {
			return nil, fmt.Errorf("setting up the webhook certificate rotator: %w", err)
		}
	} else {
		close(ready)
	}
	if err := mgr.Add(&delayedServer{server: srv, ready: ready, certFile: filepath.Join(o.CertDir, "tls.crt")}); err != nil {
		return nil, err
	}
	started := srv.StartedChecker()
	return func(req *http.Request) error {
		select {
		case <-ready:
		default:
			return fmt.Errorf("the webhook certificate is not ready: waiting for Secret %s/%s in %s and its CA in ValidatingWebhookConfiguration %s",
				o.Namespace, o.SecretName, o.CertDir, o.WebhookConfigName)
		}
		return started(req)
	}, nil
}

// delayedServer starts the webhook server once the certificate is ready and its files exist.
// It is not a webhook.Server to the manager (that group starts before the caches the rotator
// needs), but a plain runnable that runs on every replica.
type delayedServer struct {
	server   crwebhook.Server
	ready    <-chan struct{}
	certFile string
}

func (s *delayedServer) NeedLeaderElection() bool { return false }

func (s *delayedServer) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("webhook")
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil
	}
	// The kubelet projects a Secret's update into the pod after a delay.
	for logged := false; ; {
		if _, err := os.Stat(s.certFile); err == nil {
			break
		}
		if !logged {
			log.Info("Waiting for the webhook serving certificate", "file", s.certFile)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	return s.server.Start(ctx)
}
