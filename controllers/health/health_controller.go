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

package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/fanout"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

// Reconciler rolls LUN health up and writes MultipathWWID status.health, MultipathConfig
// status.lunHealth and status.nodeErrors, and the health gauges.
type Reconciler struct {
	Client client.Client
	// Clock tells the time staleness is judged at; tests pass a fake one.
	Clock clock.PassiveClock
	// Namespace is where the agents renew their Leases (the operator namespace). The manager
	// should cache Leases in this namespace only.
	Namespace string
	// RefreshInterval is how often the agents poll multipathd and renew their Lease;
	// rules.DefaultRefreshInterval when zero. A report older than rules.StaleAfter intervals is not
	// trusted, and a pass runs every interval.
	RefreshInterval time.Duration
	// MinInterval is the least time between the end of a roll-up pass and the start of the
	// next: the events of a busy cluster (every agent report is one) are folded into one pass
	// per MinInterval instead of starting passes back to back. Zero spaces nothing; the manager
	// sets DefaultMinInterval.
	MinInterval time.Duration

	// mu guards lastPass, the monotonic time the last pass ended (zero before the first).
	mu       sync.Mutex
	lastPass time.Time
	// pvs is the informer store of PersistentVolumes, when the manager's cache has one: a pass
	// reads the consumers' node affinity there without copying each volume.
	pvs toolscache.Store
}

// DefaultMinInterval is the manager's spacing between roll-up passes. A pass is O(LUNs x
// expected nodes): at 10,000 LUNs and hundreds of nodes, passes back to back (one per agent
// report) burned 17 CPU-seconds in 40 s. A second bounds that to one pass per second plus the
// pass itself, and keeps path failure -> LUN status within the two seconds asked of it.
const DefaultMinInterval = time.Second

// maxWritesPerPass bounds the MultipathWWID status writes of one pass, the worst first. When a
// join or a flap changes more, the next pass, one MinInterval later, recomputes the rest.
const maxWritesPerPass = fanout.MaxWritesPerPass

// untilNextPass is how long a pass starting at now must wait so that it starts at least
// minInterval after the previous one ended at last; zero means run now. A zero last (no pass
// yet) or minInterval never waits. The wait never exceeds minInterval, whatever the clocks say.
func untilNextPass(last, now time.Time, minInterval time.Duration) time.Duration {
	if minInterval <= 0 || last.IsZero() {
		return 0
	}
	elapsed := now.Sub(last)
	if elapsed >= minInterval {
		return 0
	}
	return min(minInterval-elapsed, minInterval)
}

// afterCapped is the requeue of a pass that left writes for the next one: the spacing, or at
// once (1 ms, as the render controller) when there is none.
func (r *Reconciler) afterCapped() time.Duration {
	return max(r.MinInterval, time.Millisecond)
}

// request is the one work item every event maps to.
var request = reconcile.Request{NamespacedName: types.NamespacedName{Name: mpv1alpha1.ClusterConfigName}}

func toCluster(context.Context, client.Object) []reconcile.Request {
	return []reconcile.Request{request}
}

func (r *Reconciler) interval() time.Duration {
	if r.RefreshInterval == 0 {
		return rules.DefaultRefreshInterval
	}
	return r.RefreshInterval
}

// SetupWithManager registers the controller. The manager's cache should keep PersistentVolumes
// trimmed (consumers.Transform) and Leases in Namespace only (see cmd/manager/app).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Clock == nil || r.Namespace == "" {
		return errors.New("health controller needs a client, a clock and the agents' namespace")
	}
	if r.RefreshInterval < 0 {
		return fmt.Errorf("health controller: refresh interval %s is negative", r.RefreshInterval)
	}
	if r.MinInterval < 0 {
		return fmt.Errorf("health controller: minimum interval between passes %s is negative", r.MinInterval)
	}
	inf, err := mgr.GetCache().GetInformer(context.Background(), &corev1.PersistentVolume{})
	if err != nil {
		return fmt.Errorf("health controller: the PersistentVolume informer: %w", err)
	}
	if s, ok := inf.(interface{ GetStore() toolscache.Store }); ok {
		r.pvs = s.GetStore()
	}
	mapped := handler.EnqueueRequestsFromMapFunc(toCluster)
	return ctrl.NewControllerManagedBy(mgr).
		Named("health").
		// Spec changes only: this controller writes the status.
		Watches(&mpv1alpha1.MultipathConfig{}, mapped, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&mpv1alpha1.MultipathWWID{}, mapped, builder.WithPredicates(wwidChanged{})).
		Watches(&mpv1alpha1.MultipathNodeState{}, mapped, builder.WithPredicates(nodeStateChanged{})).
		Watches(&corev1.Node{}, mapped, builder.WithPredicates(nodeChanged{})).
		Watches(&corev1.PersistentVolume{}, mapped, builder.WithPredicates(affinityChanged{})).
		Watches(&coordinationv1.Lease{}, mapped, builder.WithPredicates(&leaseChanged{namespace: r.Namespace, clock: r.Clock, interval: r.interval()})).
		Complete(r)
}

// wwidChanged passes MultipathWWID creations and deletions, and updates of what the roll-up
// reads: the spec (generation) and the consumers. Writes of status.health, this controller's
// own, are dropped.
type wwidChanged struct{ predicate.Funcs }

func (wwidChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*mpv1alpha1.MultipathWWID)
	n, ok2 := e.ObjectNew.(*mpv1alpha1.MultipathWWID)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation || o.Status.ConsumerCount != n.Status.ConsumerCount ||
		!slices.Equal(o.Status.Consumers, n.Status.Consumers)
}

// nodeStateChanged passes MultipathNodeState creations and deletions, and updates of what the
// roll-up reads: the maps, the Degraded condition, the host config conflicts, and whether the
// agent has reported at all.
type nodeStateChanged struct{ predicate.Funcs }

func (nodeStateChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*mpv1alpha1.MultipathNodeState)
	n, ok2 := e.ObjectNew.(*mpv1alpha1.MultipathNodeState)
	if !ok1 || !ok2 {
		return true
	}
	return rollup.Reported(o) != rollup.Reported(n) ||
		!apiequality.Semantic.DeepEqual(conditions.Get(o, mpv1alpha1.DegradedCondition), conditions.Get(n, mpv1alpha1.DegradedCondition)) ||
		!slices.Equal(o.Status.HostConflicts, n.Status.HostConflicts) ||
		!apiequality.Semantic.DeepEqual(conditions.Get(o, mpv1alpha1.HostConfigConflictCondition), conditions.Get(n, mpv1alpha1.HostConfigConflictCondition)) ||
		!slices.EqualFunc(o.Status.Maps, n.Status.Maps, equalMap)
}

// equalMap compares two reported maps field by field, paths included (no reflection: an agent's
// update carries up to 10,000 maps). The manager's cache drops the paths (manager.TrimNodeState),
// so there they compare equal (nil) and a path change that moves no count or state is no event,
// which is fine: the roll-up never reads the paths.
func equalMap(a, b mpv1alpha1.MapStatus) bool {
	return a.WWID == b.WWID && a.Name == b.Name && a.State == b.State && a.ActivePaths == b.ActivePaths &&
		a.TotalPaths == b.TotalPaths && slices.Equal(a.Paths, b.Paths)
}

// nodeChanged passes Node creations and deletions, and updates of its labels (selectors) or its
// Ready status; it drops the kubelet's other status updates.
type nodeChanged struct{ predicate.Funcs }

func (nodeChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Node)
	n, ok2 := e.ObjectNew.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !maps.Equal(o.Labels, n.Labels) || rules.NodeReady(o) != rules.NodeReady(n) || o.UID != n.UID
}

// affinityChanged passes PersistentVolume creations and deletions, and updates of its node
// affinity; phase and claim changes are dropped.
type affinityChanged struct{ predicate.Funcs }

func (affinityChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.PersistentVolume)
	n, ok2 := e.ObjectNew.(*corev1.PersistentVolume)
	return !ok1 || !ok2 || !apiequality.Semantic.DeepEqual(o.Spec.NodeAffinity, n.Spec.NodeAffinity)
}

// leaseChanged passes the creation and deletion of an agent Lease in the namespace, a change of
// its duration or holder, and the renewal of a Lease that had gone stale (the agent is back). The
// other renewals, one per node per refresh interval, are dropped: the periodic pass judges them.
type leaseChanged struct {
	namespace string
	clock     clock.PassiveClock
	interval  time.Duration
}

func (p *leaseChanged) agentLease(o client.Object) bool {
	return o.GetNamespace() == p.namespace && rules.IsAgentLease(o.GetName())
}

func (p *leaseChanged) Create(e event.CreateEvent) bool   { return p.agentLease(e.Object) }
func (p *leaseChanged) Delete(e event.DeleteEvent) bool   { return p.agentLease(e.Object) }
func (p *leaseChanged) Generic(e event.GenericEvent) bool { return false }
func (p *leaseChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*coordinationv1.Lease)
	n, ok2 := e.ObjectNew.(*coordinationv1.Lease)
	if !ok1 || !ok2 || !p.agentLease(n) {
		return ok1 && ok2 && p.agentLease(o)
	}
	if !apiequality.Semantic.DeepEqual(o.Spec.LeaseDurationSeconds, n.Spec.LeaseDurationSeconds) ||
		!apiequality.Semantic.DeepEqual(o.Spec.HolderIdentity, n.Spec.HolderIdentity) {
		return true
	}
	return !p.fresh(o) && p.fresh(n)
}

// fresh reports whether the rules would trust a Ready, reporting node with this Lease now.
func (p *leaseChanged) fresh(l *coordinationv1.Lease) bool {
	n := rules.Node{Ready: true, Reported: true, RefreshInterval: p.interval}
	n.LastHeartbeat, n.LeaseDuration = rules.Heartbeat(l)
	ok, _ := rules.NodeTrusted(&n, p.clock.Now())
	return ok
}

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=kube-multipath-system,resources=leases,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=nodes;persistentvolumes,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs;multipathwwids;multipathnodestates,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs/status;multipathwwids/status,verbs=get;patch

// Reconcile rolls every LUN up and writes what changed. It is the same work for every request,
// and it runs again after a refresh interval so that a silent agent is noticed without events.
// A request sooner than MinInterval after the last pass ended waits out the rest of it.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("MultipathConfig", klog.KRef("", mpv1alpha1.ClusterConfigName))
	ctx = ctrl.LoggerInto(ctx, log)

	// Real monotonic time, not r.Clock: tests step that one to age heartbeats. The work queue
	// never hands the one request to two workers at once; the lock is for direct callers.
	r.mu.Lock()
	defer r.mu.Unlock()
	if wait := untilNextPass(r.lastPass, time.Now(), r.MinInterval); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	defer func() { r.lastPass = time.Now() }()
	return r.pass(ctx)
}

// pass is one roll-up: gather, decide, write what changed (at most maxWritesPerPass LUNs).
func (r *Reconciler) pass(ctx context.Context) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)

	opts := rollup.GatherOptions{Namespace: r.Namespace}
	if r.pvs != nil {
		opts.PV = r.cachedPV
	}
	in, err := rollup.Gather(ctx, r.Client, opts)
	if err != nil {
		return ctrl.Result{}, err
	}
	out := rollup.Decide(in, r.Clock.Now(), r.interval())
	rollupsTotal.Inc()
	recordMetrics(out)
	if out.SelectorErr != nil {
		log.V(1).Info("MultipathConfig node selector is invalid; every node counts as managed", "err", out.SelectorErr)
	}

	// The changed LUNs, worst first: when a join or a flap changes thousands of them, a failed
	// path is not queued behind them (test/scale measures path failure -> status under load).
	var changed []int
	for i := range in.WWIDs {
		w := &in.WWIDs[i]
		if err := out.ExpectErrors[w.Name]; err != nil {
			log.V(1).Info("Expected nodes of a LUN are partly unknown", "MultipathWWID", klog.KObj(w), "err", err)
		}
		if !rollup.EqualHealth(&w.Status.Health, &out.Health[i]) {
			changed = append(changed, i)
		}
	}
	slices.SortStableFunc(changed, func(a, b int) int {
		return rules.Severity(out.Health[b].State) - rules.Severity(out.Health[a].State)
	})
	// The worst maxWritesPerPass only: the rest is recomputed by the next pass (afterCapped),
	// from reports that may have moved on meanwhile, rather than written stale.
	deferred := len(changed) - maxWritesPerPass
	if deferred > 0 {
		changed = changed[:maxWritesPerPass]
	}
	errs := fanout.Each(ctx, len(changed), func(ctx context.Context, k int) error {
		i := changed[k]
		return r.writeWWID(ctx, &in.WWIDs[i], out.Health[i])
	})
	if in.Config != nil && in.Config.DeletionTimestamp.IsZero() {
		if err := r.writeConfig(ctx, in.Config, out); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		if conditions.OnlyConflicts(errs) {
			// Another controller wrote the same status first; the next pass reads it.
			// The retry is a whole pass, so it is spaced like any other.
			ctrl.LoggerFrom(ctx).V(4).Info("Status write conflict, retrying", "error", err)
			return ctrl.Result{RequeueAfter: max(conditions.ConflictRetry, r.MinInterval)}, nil
		}
		return ctrl.Result{}, fmt.Errorf("writing health: %w", err)
	}
	if deferred > 0 {
		log.V(4).Info("More LUN health to write; continuing in the next pass", "perPass", maxWritesPerPass, "deferred", deferred)
		return ctrl.Result{RequeueAfter: r.afterCapped()}, nil
	}
	log.V(4).Info("Rolled LUN health up", "luns", len(in.WWIDs), "nodes", len(out.Nodes), "untrusted", out.Untrusted,
		"optimal", out.LUNCounts.Optimal, "degraded", out.LUNCounts.Degraded, "failed", out.LUNCounts.Failed,
		"missing", out.LUNCounts.Missing, "unknown", out.LUNCounts.Unknown)
	return ctrl.Result{RequeueAfter: r.interval()}, nil
}

// cachedPV is the cache's PersistentVolume name, or nil when there is none. The cache has
// run it through consumers.Transform.
func (r *Reconciler) cachedPV(name string) (*corev1.PersistentVolume, error) {
	obj, ok, err := r.pvs.GetByKey(name)
	if err != nil || !ok {
		return nil, err
	}
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return nil, fmt.Errorf("the PersistentVolume cache holds a %T", obj)
	}
	return pv, nil
}

// writeWWID patches cached's status.health when it changed. cached is the informer's object
// (rollup.Gather lists without copying) and is never changed: the patch is made, and its response
// decoded, into a copy.
func (r *Reconciler) writeWWID(ctx context.Context, cached *mpv1alpha1.MultipathWWID, h mpv1alpha1.LUNHealth) error {
	if rollup.EqualHealth(&cached.Status.Health, &h) {
		return nil
	}
	before, w := cached, cached.DeepCopy()
	rollup.SetWWIDHealth(w, h)
	ctrl.LoggerFrom(ctx).V(2).Info("Updating LUN health", "MultipathWWID", klog.KObj(w), "state", h.State, "nodes", h.Nodes)
	// Optimistic lock: the render controller writes the rest of the same status; the merge patch
	// carries status.health only, and the resourceVersion.
	if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to update health of MultipathWWID %s: %w", klog.KObj(w), err)
	}
	statusWritesTotal.Inc()
	return nil
}

// writeConfig patches cfg's status.lunHealth and status.nodeErrors when they changed.
func (r *Reconciler) writeConfig(ctx context.Context, cfg *mpv1alpha1.MultipathConfig, out *rollup.Outcome) error {
	before := cfg.DeepCopy()
	if !rollup.SetConfigHealth(cfg, out.LUNCounts, out.ConfigNodeErrors()) {
		return nil
	}
	// Optimistic lock: the render and rollout controllers write the rest of the same status.
	if err := r.Client.Status().Patch(ctx, cfg, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to update health of MultipathConfig %s: %w", klog.KObj(cfg), err)
	}
	statusWritesTotal.Inc()
	return nil
}
