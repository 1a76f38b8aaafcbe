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

// Package kubeclient is the node agent's Kubernetes client: the few requests, watches and Events
// the agent makes, on client-go's rest and tools/cache alone, with a scheme of only the kinds it
// uses. It exists for the agent's memory on every node: controller-runtime's client, cache,
// reconcile and metrics packages each import client-go's scheme of every built-in kind, which
// links all of k8s.io/api (7.5 MiB of code and tables) into the agent binary, and the kernel
// maps most of it (docs/performance.md, docs/agent.md). The manager, one per cluster, keeps
// controller-runtime.
package kubeclient

import (
	"context"
	"fmt"
	"net/http"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// scheme holds the kinds the agent reads or writes, and nothing else.
var scheme = runtime.NewScheme()

var codecs = serializer.NewCodecFactory(scheme)

func init() {
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme, mpv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

const (
	stateResource     = "multipathnodestates"
	configMapResource = "configmaps"
)

// Client makes the agent's requests. Its REST clients share one HTTP client (one connection,
// HTTP/2 multiplexed, to the API server) and the config's rate limits.
type Client struct {
	core, coordination, events, multipath rest.Interface
	// HTTPClient is the HTTP client the requests go through; the metrics endpoint's reviews use it too.
	HTTPClient *http.Client
}

// New returns a client for cfg.
func New(cfg *rest.Config) (*Client, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{HTTPClient: httpClient}
	for _, gc := range []struct {
		gv  schema.GroupVersion
		out *rest.Interface
	}{
		{corev1.SchemeGroupVersion, &c.core},
		{coordinationv1.SchemeGroupVersion, &c.coordination},
		{eventsv1.SchemeGroupVersion, &c.events},
		{mpv1alpha1.GroupVersion, &c.multipath},
	} {
		rc, err := RESTClient(cfg, httpClient, gc.gv, codecs)
		if err != nil {
			return nil, err
		}
		*gc.out = rc
	}
	return c, nil
}

// RESTClient returns a REST client of group version gv that encodes and decodes with codecs.
// A built-in group speaks protobuf, as controller-runtime's and client-go's clients do for
// built-in kinds: decoding a 150 KB rendered config from protobuf costs a node a fraction of
// decoding it from JSON, and a thousand nodes receive it at once. Custom resources are JSON only.
func RESTClient(cfg *rest.Config, httpClient *http.Client, gv schema.GroupVersion, codecs serializer.CodecFactory) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	if gv.Group == "" {
		c.APIPath = "/api"
	}
	if gv.Group != mpv1alpha1.GroupVersion.Group && c.ContentType == "" {
		c.ContentType = runtime.ContentTypeProtobuf
		c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	}
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientForConfigAndClient(c, httpClient)
}

// GetState reads the MultipathNodeState name from the API server (a quorum read).
func (c *Client) GetState(ctx context.Context, name string) (*mpv1alpha1.MultipathNodeState, error) {
	st := &mpv1alpha1.MultipathNodeState{}
	if err := c.multipath.Get().Resource(stateResource).Name(name).Do(ctx).Into(st); err != nil {
		return nil, err
	}
	return st, nil
}

// GetConfigMap reads a ConfigMap from the API server: resourceVersion "" is a quorum read, "0"
// is served from the API server's watch cache.
func (c *Client) GetConfigMap(ctx context.Context, namespace, name, resourceVersion string) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	req := c.core.Get().Namespace(namespace).Resource(configMapResource).Name(name)
	if resourceVersion != "" {
		req = req.Param("resourceVersion", resourceVersion)
	}
	if err := req.Do(ctx).Into(cm); err != nil {
		return nil, err
	}
	return cm, nil
}

// ApplyStatus server-side applies body (a MultipathNodeState with only its status, as JSON) to
// the status of the MultipathNodeState name, as fieldManager, taking over conflicting fields.
// The reply, the whole object, is read and dropped.
func (c *Client) ApplyStatus(ctx context.Context, name string, body []byte, fieldManager string) error {
	return c.multipath.Patch(types.ApplyPatchType).Resource(stateResource).Name(name).SubResource("status").
		Param("fieldManager", fieldManager).Param("force", "true").Body(body).Do(ctx).Error()
}

// ApplyLease server-side applies body (a Lease as JSON) to the Lease namespace/name, as
// fieldManager, taking over conflicting fields.
func (c *Client) ApplyLease(ctx context.Context, namespace, name string, body []byte, fieldManager string) error {
	return c.coordination.Patch(types.ApplyPatchType).Namespace(namespace).Resource("leases").Name(name).
		Param("fieldManager", fieldManager).Param("force", "true").Body(body).Do(ctx).Error()
}

// CreateEvent creates ev in its namespace.
func (c *Client) CreateEvent(ctx context.Context, ev *eventsv1.Event) error {
	return c.events.Post().Namespace(ev.Namespace).Resource("events").Body(ev).Do(ctx).Error()
}

// StateInformer watches the one MultipathNodeState named name (a field selector: the API server
// sends no other node's). transform, when set, replaces the default, which drops managed fields.
func (c *Client) StateInformer(name string, transform cache.TransformFunc) cache.SharedIndexInformer {
	lw := cache.NewFilteredListWatchFromClient(c.multipath, stateResource, metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	})
	return newInformer(lw, &mpv1alpha1.MultipathNodeState{}, transform)
}

// ConfigMapInformer watches the ConfigMaps of namespace that carry labelSelector.
func (c *Client) ConfigMapInformer(namespace, labelSelector string) cache.SharedIndexInformer {
	lw := cache.NewFilteredListWatchFromClient(c.core, configMapResource, namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = labelSelector
	})
	return newInformer(lw, &corev1.ConfigMap{}, nil)
}

func newInformer(lw cache.ListerWatcher, obj runtime.Object, transform cache.TransformFunc) cache.SharedIndexInformer {
	// No resync: a pass comes from a change, a trigger or the agent's own refresh interval.
	inf := cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{})
	if transform == nil {
		transform = StripManagedFields
	}
	if err := inf.SetTransform(transform); err != nil {
		panic(err) // only fails once the informer runs
	}
	return inf
}

// StripManagedFields is the informers' default transform: the agent never reads the managed
// fields, which are often the largest part of a small object.
func StripManagedFields(obj any) (any, error) {
	if a, err := meta.Accessor(obj); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}

// Get returns the object of key (namespace/name, or name) in an informer's store, as stored:
// the caller must not change it. It is a NotFound error, of resource, when the store has none.
func Get[T runtime.Object](inf cache.SharedIndexInformer, resource schema.GroupResource, key string) (T, error) {
	var zero T
	item, ok, err := inf.GetStore().GetByKey(key)
	if err != nil {
		return zero, err
	}
	if !ok {
		_, name, _ := cache.SplitMetaNamespaceKey(key)
		return zero, apierrors.NewNotFound(resource, name)
	}
	obj, ok := item.(T)
	if !ok {
		return zero, apierrors.NewInternalError(fmt.Errorf("the informer of %s holds a %T", resource, item))
	}
	return obj, nil
}
