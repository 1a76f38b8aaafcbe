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

package rollout

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/fanout"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

// The rollout hands a config out to the nodes it admits by one write of the rollout wave
// (internal/wave: a small ConfigMap every agent watches), not by one write per node. A node's
// spec.desiredConfig is recorded after the fact, once its agent confirmed the config on its
// Lease, or before the wave drops the node. internal/wave states the contract.

// gatherWave reads the wave and the agents' confirmations from the cache. It reports false
// when the cache does not show the wave this controller last wrote yet.
func (r *Reconciler) gatherWave(ctx context.Context, s *scope) (bool, error) {
	if r.Namespace == "" {
		return true, nil
	}
	cm := &corev1.ConfigMap{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: wave.Name}, cm); {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return false, fmt.Errorf("failed to get the rollout wave: %w", err)
	}
	if !r.waveSeen.met(cm, time.Now()) {
		return false, nil
	}
	s.waveCM = cm
	w, err := wave.FromConfigMap(cm)
	if err != nil {
		// Only this controller writes it; the next publication replaces it. Meanwhile no node
		// is counted as handed anything by it (the agents ignore it too).
		ctrl.LoggerFrom(ctx).Error(err, "Ignoring the rollout wave")
	}
	s.wave = w

	leases := &coordinationv1.LeaseList{}
	if err := r.Client.List(ctx, leases, client.InNamespace(r.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("failed to list Leases: %w", err)
	}
	byName := make(map[string]*coordinationv1.Lease, len(leases.Items))
	for i := range leases.Items {
		if rules.IsAgentLease(leases.Items[i].Name) {
			byName[leases.Items[i].Name] = &leases.Items[i]
		}
	}
	s.confirmed = make(map[string]*mpv1alpha1.RenderedConfigRef)
	s.failedHash = make(map[string]string)
	for name, st := range s.states {
		l := byName[rules.LeaseName(name)]
		if ref := rules.LeaseApplied(l, st.UID); ref != nil {
			s.confirmed[name] = ref
		}
		if hash := rules.LeaseFailed(l, st.UID); hash != "" {
			s.failedHash[name] = hash
		}
	}
	return true, nil
}

// desiredOf is the config the node's agent applies: the wave's when the wave names the node,
// else its spec.
func (s *scope) desiredOf(st *mpv1alpha1.MultipathNodeState) *mpv1alpha1.RenderedConfigRef {
	return wave.Effective(s.wave, st)
}

// appliedOf is the config the node runs, as far as the rollout to want is concerned: want when
// its agent confirmed it on its Lease or reported it in its status (the agent writes the Lease
// first; either write can fail alone), else the Lease's, else the status's.
func (s *scope) appliedOf(st *mpv1alpha1.MultipathNodeState, want *mpv1alpha1.RenderedConfigRef) *mpv1alpha1.RenderedConfigRef {
	lease, status := s.confirmed[st.Name], st.Status.AppliedConfig
	switch {
	case want != nil && (is(lease, *want) || is(status, *want)):
		return want
	case lease != nil:
		return lease
	}
	return status
}

// failedOf reports whether the node's agent fails to apply the config it is told. A config
// the wave hands out changes no generation, so for a node the wave names (and whose spec does
// not say the same yet) the failure is the one its Lease names; otherwise it is the Degraded
// condition of the current generation.
func (s *scope) failedOf(st *mpv1alpha1.MultipathNodeState) bool {
	if w := s.wave; w.HasState(st) && !recorded(st, w.Config) {
		return s.failedHash[st.Name] == w.Config.Hash
	}
	return failed(st)
}

// waveOK reports whether this pass hands the target out by the wave: the wave is enabled (a
// namespace is set) and the MultipathConfig is not being deleted (a deletion is handed out node
// by node, as a teardown is).
func (r *Reconciler) waveOK(s *scope) bool {
	return r.Namespace != "" && s.config != nil && !s.deleting
}

// handOut hands target to the nodes of start: the managed ones by the wave when waveOK, the
// others (teardowns, deletion) through their spec, configOf saying which config. It records the
// config of the wave's nodes in their spec as soon as their agents confirm it, and before the
// wave drops them.
func (r *Reconciler) handOut(ctx context.Context, s *scope, target *mpv1alpha1.RenderedConfigRef, start []string, configOf func(string) mpv1alpha1.RenderedConfigRef) []error {
	log := ctrl.LoggerFrom(ctx)
	cur := s.wave
	var byWave, bySpec []string
	for _, name := range start {
		if r.waveOK(s) && s.managed(name) {
			byWave = append(byWave, name)
		} else {
			bySpec = append(bySpec, name)
		}
	}

	// The next wave: the current one's nodes that still need it (same config, still managed,
	// not recorded yet) and the newly admitted ones. A recorded node leaves at the next
	// publication: its spec says the same.
	next := &wave.Wave{}
	if r.waveOK(s) && target != nil {
		var members []wave.Member
		if cur != nil && cur.Config == *target {
			for _, name := range cur.Nodes {
				if st := s.states[name]; cur.HasState(st) && s.managed(name) && !recorded(st, cur.Config) {
					members = append(members, wave.Member{Node: name, UID: st.UID})
				}
			}
		}
		for _, name := range byWave {
			members = append(members, wave.Member{Node: name, UID: s.states[name].UID})
		}
		next = wave.New(*target, members)
	}
	// A new wave is published for newly admitted nodes, and to drop a node that now gets a
	// config through its spec (a teardown, a deletion). Nodes recorded meanwhile leave with it;
	// until then the wave keeps naming them, harmlessly: their spec says the same.
	publish := len(byWave) > 0 || slices.ContainsFunc(bySpec, cur.Names)
	if cur != nil && target != nil && cur.Config != *target {
		// A rollback to a config nodes of the wave still run (the wave's config failed there):
		// the wave lets them go, and their spec says what they run.
		for _, name := range cur.Nodes {
			if st := s.states[name]; cur.HasState(st) && is(s.appliedOf(st, target), *target) {
				publish = true
			}
		}
	}
	if publish && !wave.Equal(cur, next) && !next.Fits() {
		log.Info("The rollout wave would not fit in its ConfigMap; handing out node by node", "nodes", len(next.Nodes))
		bySpec, byWave = append(bySpec, byWave...), nil
		next = wave.New(next.Config, nil)
	}

	var errs []error
	published := true
	if publish && !wave.Equal(cur, next) {
		// A node the wave drops keeps what the wave handed it: its spec says so first.
		var unrecorded []string
		for _, name := range curNodes(cur) {
			if st := s.states[name]; cur.HasState(st) && !next.HasState(st) && !recorded(st, cur.Config) && !s.runsSpec(st) {
				unrecorded = append(unrecorded, name)
			}
		}
		if len(unrecorded) > 0 {
			published = false
			log.Info("Recording the rollout wave's config before the wave drops the nodes", "config", cur.Config.Name, "nodes", len(unrecorded))
			errs = append(errs, fanout.Each(ctx, len(unrecorded), func(ctx context.Context, i int) error {
				return r.setDesired(ctx, s.states[unrecorded[i]], cur.Config)
			})...)
		} else if err := r.publish(ctx, s, next); err != nil {
			published = false
			errs = append(errs, err)
		} else {
			log.Info("Handing out config by the rollout wave", "config", next.Config.Name, "nodes", len(byWave), "wave", len(next.Nodes))
		}
	}
	if !published {
		// Nothing is handed out by the wave this pass; a node the old wave names gets nothing
		// through its spec either (the next pass does it).
		bySpec = slices.DeleteFunc(bySpec, cur.Names)
	}
	errs = append(errs, fanout.Each(ctx, len(bySpec), func(ctx context.Context, i int) error {
		name := bySpec[i]
		ref := configOf(name)
		if s.managed(name) {
			log.Info("Handing out config", "Node", klog.KRef("", name), "config", ref.Name)
		} else {
			log.Info("Tearing down node", "Node", klog.KRef("", name), "config", ref.Name)
		}
		return r.setDesired(ctx, s.states[name], ref)
	})...)

	// Record what the agents confirmed (or reported), once every node of the wave confirmed or
	// failed its config, or recordDelay after this controller first saw one unrecorded: each
	// record writes a whole MultipathNodeState (and wakes its agent to write its report), and
	// those writes should not compete with the wave's confirmations at the API server.
	if w := s.wave; w != nil && len(w.Nodes) > 0 {
		var confirmed []string
		done := true
		for _, name := range w.Nodes {
			st := s.states[name]
			switch {
			case !w.HasState(st) || recorded(st, w.Config):
			case is(s.appliedOf(st, &w.Config), w.Config):
				confirmed = append(confirmed, name)
			case !s.failedOf(st):
				done = false
			}
		}
		if len(confirmed) > 0 {
			if wait := r.recordWait.until(w.Config.Hash, time.Now()); done || wait <= 0 {
				errs = append(errs, fanout.Each(ctx, len(confirmed), func(ctx context.Context, i int) error {
					return r.setDesired(ctx, s.states[confirmed[i]], w.Config)
				})...)
				r.recordWait.reset()
			} else {
				s.requeue = wait
			}
		}
	}
	return errs
}

// recordDelay is how long confirmed nodes of a wave that is not done wait to be recorded.
const recordDelay = 3 * time.Second

// recordTimer remembers when this controller first saw an unrecorded confirmation of a wave's
// config.
type recordTimer struct {
	mu    sync.Mutex
	hash  string
	since time.Time
}

// until returns how long the confirmations of hash still wait, starting the wait if needed.
func (t *recordTimer) until(hash string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hash != hash {
		t.hash, t.since = hash, now
	}
	return recordDelay - now.Sub(t.since)
}

func (t *recordTimer) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hash = ""
}

// runsSpec reports whether st's node runs the config its spec names: the wave can let it go
// without a record, nothing changes on the node.
func (s *scope) runsSpec(st *mpv1alpha1.MultipathNodeState) bool {
	spec := st.Spec.DesiredConfig
	return spec != nil && is(s.appliedOf(st, spec), *spec)
}

// curNodes is w's nodes; none for a nil wave.
func curNodes(w *wave.Wave) []string {
	if w == nil {
		return nil
	}
	return w.Nodes
}

// recorded reports whether st's spec names ref.
func recorded(st *mpv1alpha1.MultipathNodeState, ref mpv1alpha1.RenderedConfigRef) bool {
	return is(st.Spec.DesiredConfig, ref)
}

// is reports whether ref names want.
func is(ref *mpv1alpha1.RenderedConfigRef, want mpv1alpha1.RenderedConfigRef) bool {
	return ref != nil && *ref == want
}

// publish writes w as the rollout wave.
func (r *Reconciler) publish(ctx context.Context, s *scope, w *wave.Wave) error {
	cm := w.ConfigMap(r.Namespace)
	var err error
	if s.waveCM == nil {
		err = r.Client.Create(ctx, cm)
	} else {
		cm.ResourceVersion = s.waveCM.ResourceVersion
		err = r.Client.Update(ctx, cm)
	}
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// The cache is behind; the next pass reads the wave again.
			r.waveSeen.wait(nil, time.Now())
			return nil
		}
		return fmt.Errorf("failed to publish the rollout wave: %w", err)
	}
	r.waveSeen.wait(cm, time.Now())
	s.wave, s.waveCM = w, cm
	return nil
}

// waveExpectation remembers the wave written last until the cache shows it, so that a pass
// never computes the next wave from an older one.
type waveExpectation struct {
	mu sync.Mutex
	rv string
	at time.Time
}

// wait records that cm was written (nil: a write failed on a stale read; any newer cache
// content will do, after cacheWait).
func (e *waveExpectation) wait(cm *corev1.ConfigMap, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.at = now
	e.rv = "?"
	if cm != nil {
		e.rv = cm.ResourceVersion
	}
}

// met reports whether the cache's wave (nil: none) is the one written last, or the wait expired.
func (e *waveExpectation) met(cm *corev1.ConfigMap, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.rv == "":
		return true
	case cm != nil && cm.ResourceVersion == e.rv,
		e.rv == "?" && now.Sub(e.at) >= cacheWait,
		now.Sub(e.at) > expectationTTL:
		e.rv = ""
		return true
	}
	return false
}

// waveChanged passes the events of the rollout wave ConfigMap.
type waveChanged struct {
	predicate.Funcs
	namespace string
}

func (p waveChanged) is(o client.Object) bool {
	return o.GetNamespace() == p.namespace && o.GetName() == wave.Name
}
func (p waveChanged) Create(e event.CreateEvent) bool   { return p.is(e.Object) }
func (p waveChanged) Delete(e event.DeleteEvent) bool   { return p.is(e.Object) }
func (p waveChanged) Update(e event.UpdateEvent) bool   { return p.is(e.ObjectNew) }
func (p waveChanged) Generic(e event.GenericEvent) bool { return false }

// confirmationChanged passes the agent Leases' creations, deletions and changes of what they say
// about the apply; the heartbeats, most of their writes, are dropped.
type confirmationChanged struct{ predicate.Funcs }

func (confirmationChanged) Create(e event.CreateEvent) bool {
	return rules.IsAgentLease(e.Object.GetName())
}
func (confirmationChanged) Delete(e event.DeleteEvent) bool {
	return rules.IsAgentLease(e.Object.GetName())
}
func (confirmationChanged) Update(e event.UpdateEvent) bool {
	if !rules.IsAgentLease(e.ObjectNew.GetName()) {
		return false
	}
	o, n := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
	return o[rules.AppliedConfigAnnotation] != n[rules.AppliedConfigAnnotation] || o[rules.AppliedHashAnnotation] != n[rules.AppliedHashAnnotation] ||
		o[rules.FailedHashAnnotation] != n[rules.FailedHashAnnotation]
}
func (confirmationChanged) Generic(event.GenericEvent) bool { return false }
