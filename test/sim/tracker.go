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

package sim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

// Tracker watches every MultipathNodeState, the rollout wave and the agents' Leases, and records
// when each node was first handed each config, first confirmed running it, and first reported
// it, as seen by a watcher outside the system (the time a person running kubectl get --watch
// would see it).
type Tracker struct {
	mu        sync.Mutex
	applied   map[string]string               // node -> hash it reports running now
	first     map[string]map[string]time.Time // node -> hash -> first seen reported (status)
	confirmed map[string]map[string]time.Time // node -> hash -> first seen confirmed (Lease)
	handed    map[string]map[string]time.Time // node -> hash -> first seen in spec.desiredConfig or the wave
	changed   chan struct{}
}

// Track starts a Tracker; it runs until ctx ends.
func Track(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*Tracker, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &mpv1alpha1.MultipathNodeState{})
	if err != nil {
		return nil, err
	}
	t := &Tracker{applied: map[string]string{}, first: map[string]map[string]time.Time{}, confirmed: map[string]map[string]time.Time{},
		handed: map[string]map[string]time.Time{}, changed: make(chan struct{}, 1)}
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &coordinationv1.Lease{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.observeOther(o) },
			UpdateFunc: func(_, o any) { t.observeOther(o) },
		}); err != nil {
			return nil, err
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.observe(o) },
		UpdateFunc: func(_, o any) { t.observe(o) },
		DeleteFunc: func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if st, ok := o.(*mpv1alpha1.MultipathNodeState); ok {
				t.mu.Lock()
				delete(t.applied, st.Name)
				t.mu.Unlock()
				t.notify()
			}
		},
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the MultipathNodeState watch did not sync")
	}
	return t, nil
}

func (t *Tracker) observe(o any) {
	now := time.Now()
	st, ok := o.(*mpv1alpha1.MultipathNodeState)
	if !ok {
		return
	}
	t.mu.Lock()
	if d := st.Spec.DesiredConfig; d != nil {
		firstSeen(t.handed, st.Name, d.Hash, now)
	}
	if st.Status.AppliedConfig == nil {
		t.mu.Unlock()
		return
	}
	hash := st.Status.AppliedConfig.Hash
	t.applied[st.Name] = hash
	if t.first[st.Name] == nil {
		t.first[st.Name] = map[string]time.Time{}
	}
	if _, seen := t.first[st.Name][hash]; !seen {
		t.first[st.Name][hash] = now
	}
	t.mu.Unlock()
	t.notify()
}

// observeOther records the wave's hand-outs and the Leases' confirmations.
func (t *Tracker) observeOther(o any) {
	now := time.Now()
	t.mu.Lock()
	switch o := o.(type) {
	case *corev1.ConfigMap:
		w, err := wave.FromConfigMap(o)
		if o.Name != wave.Name || err != nil {
			break
		}
		for _, node := range w.Nodes {
			firstSeen(t.handed, node, w.Config.Hash, now)
		}
	case *coordinationv1.Lease:
		if node, ok := strings.CutPrefix(o.Name, health.LeasePrefix); ok {
			if hash := o.Annotations[health.AppliedHashAnnotation]; hash != "" {
				firstSeen(t.confirmed, node, hash, now)
			}
		}
	}
	t.mu.Unlock()
	t.notify()
}

// firstSeen records now as when node was first seen with hash in m, unless it was before.
func firstSeen(m map[string]map[string]time.Time, node, hash string, now time.Time) {
	if m[node] == nil {
		m[node] = map[string]time.Time{}
	}
	if _, seen := m[node][hash]; !seen {
		m[node][hash] = now
	}
}

// FirstConfirmed returns when node was first seen confirming hash on its Lease.
func (t *Tracker) FirstConfirmed(node, hash string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.confirmed[node][hash]
	return at, ok
}

func (t *Tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// FirstApplied returns when node was first seen running hash.
func (t *Tracker) FirstApplied(node, hash string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.first[node][hash]
	return at, ok
}

// FirstHanded returns when node was first seen told to run hash (by the rollout wave or its
// spec.desiredConfig).
func (t *Tracker) FirstHanded(node, hash string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.handed[node][hash]
	return at, ok
}

// Applied returns how many nodes run hash now.
func (t *Tracker) Applied(hash string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, h := range t.applied {
		if h == hash {
			n++
		}
	}
	return n
}

// WaitApplied waits until at least n nodes run hash.
func (t *Tracker) WaitApplied(ctx context.Context, hash string, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if got := t.Applied(hash); got >= n {
			return nil
		}
		select {
		case <-t.changed:
		case <-time.After(time.Second):
		case <-deadline:
			return fmt.Errorf("%d of %d nodes applied config %.16s within %s", t.Applied(hash), n, hash, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
