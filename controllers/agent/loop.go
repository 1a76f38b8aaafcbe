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

package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
)

// The agent's controller loop. It reconciles one object, its node's MultipathNodeState, so it
// is a work queue of one key fed by two watches and the triggers: what controller-runtime's
// builder does for it, without the packages that link every built-in kind (internal/kubeclient
// says why). The semantics are controller-runtime's: the watches' stores are synced before the
// first pass, one pass at a time, an error retried with the same per-item exponential backoff,
// a result's RequeueAfter honoured, a panic recovered as an error.

var (
	stateResource     = mpv1alpha1.GroupVersion.WithResource("multipathnodestates").GroupResource()
	configMapResource = corev1.Resource("configmaps")
)

// result is what a pass or a phase of it asks of the loop: another pass after RequeueAfter
// (0: none asked).
type result struct {
	RequeueAfter time.Duration
}

// EventRecorder emits Events (kubeclient.Recorder; the signature is controller-runtime's).
type EventRecorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// NewTriggers returns the channel for Reconciler.Triggers and a function that asks, without
// blocking, for a pass over the node (passes asked for while one is queued coalesce).
func NewTriggers() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *Reconciler) setup() error {
	if r.Kube == nil || r.Recorder == nil || r.Host == nil || r.Daemon == nil || r.NodeName == "" || r.Namespace == "" {
		return errors.New("agent reconciler needs Kube, Recorder, Host, Daemon, NodeName and Namespace")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.RefreshInterval <= 0 {
		r.RefreshInterval = health.DefaultRefreshInterval
	}
	if r.MapUsers != nil && r.Host.InUse == nil {
		// The apply refuses to rename an open map the host named (adopting it under another name).
		r.Host.InUse = r.mapInUse
	}
	if r.Host.Usable == nil {
		// The post-check wants back every map that had a usable path, by the health rules.
		r.Host.Usable = mapstatus.Usable
	}
	return nil
}

// Start watches the node's MultipathNodeState (spec changes only: the agent's own status
// writes do not wake it) and the operator's ConfigMaps (the rollout wave, when it starts or
// stops naming this node or changes its config; the rendered configs are only read), and
// runs a pass on each change, trigger and RequeueAfter until ctx ends.
func (r *Reconciler) Start(ctx context.Context) error {
	if err := r.setup(); err != nil {
		return err
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("controller", "agent"))
	r.states = r.Kube.StateInformer(r.NodeName, TrimOwnState)
	r.configMaps = r.Kube.ConfigMapInformer(r.Namespace, managedBy)
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "agent"})
	enqueue := func() { queue.Add(r.NodeName) }

	generation := func(o any) int64 {
		if st, ok := o.(*mpv1alpha1.MultipathNodeState); ok {
			return st.Generation
		}
		return -1
	}
	if _, err := r.states.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { enqueue() },
		UpdateFunc: func(old, new any) {
			if generation(old) != generation(new) {
				enqueue()
			}
		},
		DeleteFunc: func(any) { enqueue() },
	}); err != nil {
		return err
	}
	waves := waveNames{node: r.NodeName, namespace: r.Namespace}
	if _, err := r.configMaps.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if waves.changed(nil, o) {
				enqueue()
			}
		},
		UpdateFunc: func(old, new any) {
			if waves.changed(old, new) {
				enqueue()
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if waves.changed(o, nil) {
				enqueue()
			}
		},
	}); err != nil {
		return err
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer queue.ShutDown()
	wg.Go(func() { r.states.RunWithContext(ctx) })
	wg.Go(func() { r.configMaps.RunWithContext(ctx) })
	if r.Triggers != nil {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-r.Triggers:
					enqueue()
				}
			}
		})
	}
	if !cache.WaitForCacheSync(ctx.Done(), r.states.HasSynced, r.configMaps.HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("the agent's watches did not sync")
	}
	wg.Go(func() {
		<-ctx.Done()
		queue.ShutDown()
	})
	for r.next(ctx, queue) {
	}
	return nil
}

// next runs the pass queued next; false once the queue is shut down.
func (r *Reconciler) next(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string]) bool {
	key, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(key)
	res, err := r.pass(ctx)
	switch {
	case err != nil:
		queue.AddRateLimited(key)
		log.FromContext(ctx).Error(err, "Reconciler error")
	case res.RequeueAfter > 0:
		queue.Forget(key)
		queue.AddAfter(key, res.RequeueAfter)
	default:
		queue.Forget(key)
	}
	return true
}

// pass is reconcile with a panic turned into an error, as controller-runtime does: a bug in one
// pass must not take the node's agent down in a crash loop.
func (r *Reconciler) pass(ctx context.Context) (res result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v [recovered]", p)
		}
	}()
	return r.reconcile(ctx)
}
