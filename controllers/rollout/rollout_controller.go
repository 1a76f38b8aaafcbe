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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
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
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/rolloutplan"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

const (
	// cacheWait is how soon a pass that found the cache behind this controller's own writes is
	// retried. The watch event of the write normally comes first.
	cacheWait = time.Second
	// expectationTTL bounds how long a write is waited for in the cache: an object that someone
	// else deleted right after it was written never shows the written generation.
	expectationTTL = 30 * time.Second
)

// Reconciler rolls the rendered config out to the selected nodes and writes the MultipathConfig's
// rollout status. Build it with a client and an event recorder (mgr.GetEventRecorder("rollout")).
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// APIReader, optional, reads the MultipathConfig's managedFields (which the manager's cache
	// strips) to name who set the force-remove annotation in the Forced Event.
	APIReader client.Reader
	// Namespace is the operator's namespace, where the rollout wave is published
	// (internal/wave). Empty hands every node its config through its own spec.
	Namespace string

	// expect holds the MultipathNodeStates written by this controller that the cache may not
	// show yet. The zero value is ready to use.
	expect expectations
	// waveSeen holds the wave written last until the cache shows it.
	waveSeen waveExpectation
	// recordWait times the recording of a wave's confirmed nodes.
	recordWait recordTimer
}

// request is the one work item every event maps to.
var request = reconcile.Request{NamespacedName: types.NamespacedName{Name: mpv1alpha1.ClusterConfigName}}

func toCluster(context.Context, client.Object) []reconcile.Request {
	return []reconcile.Request{request}
}

// emptyConfig names the "nothing to manage" config that a node is torn down with.
var emptyConfig = sync.OnceValue(multipathconf.EmptyRef)

// SetupWithManager registers the controller with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Recorder == nil {
		return errors.New("rollout controller needs a client and an event recorder")
	}
	mapped := handler.EnqueueRequestsFromMapFunc(toCluster)
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Namespace != "" {
		b = b.
			// The agents' confirmations, and this controller's own wave writes.
			Watches(&coordinationv1.Lease{}, mapped, builder.WithPredicates(confirmationChanged{})).
			Watches(&corev1.ConfigMap{}, mapped, builder.WithPredicates(waveChanged{namespace: r.Namespace}))
	}
	return b.
		Named("rollout").
		// Any change: status.renderedConfig and Rendered are written by the render controller.
		Watches(&mpv1alpha1.MultipathConfig{}, mapped).
		Watches(&mpv1alpha1.MultipathNodeState{}, mapped, builder.WithPredicates(nodeStateChanged{})).
		Watches(&corev1.Node{}, mapped, builder.WithPredicates(nodeChanged{})).
		// What holds a teardown: the TeardownHeld message names the in-use LUNs and their users.
		Watches(&mpv1alpha1.MultipathWWID{}, mapped, builder.WithPredicates(inUseChanged{})).
		Complete(r)
}

// nodeChanged passes Node creations and deletions, and updates of its labels or Ready status;
// it drops heartbeats and every other status update.
type nodeChanged struct{ predicate.Funcs }

func (nodeChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Node)
	n, ok2 := e.ObjectNew.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !maps.Equal(o.Labels, n.Labels) || rules.NodeReady(o) != rules.NodeReady(n) || o.UID != n.UID
}

// nodeStateChanged passes MultipathNodeState creations and deletions, and updates of what the
// rollout reads: the spec (generation), appliedConfig, the Degraded condition, the owner and the
// deletion. Map and path reports, the bulk of the agent's writes, are dropped.
type nodeStateChanged struct{ predicate.Funcs }

func (nodeStateChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*mpv1alpha1.MultipathNodeState)
	n, ok2 := e.ObjectNew.(*mpv1alpha1.MultipathNodeState)
	if !ok1 || !ok2 {
		return true
	}
	return o.Generation != n.Generation ||
		o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() ||
		!apiequality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) ||
		!apiequality.Semantic.DeepEqual(o.Status.AppliedConfig, n.Status.AppliedConfig) ||
		!apiequality.Semantic.DeepEqual(degraded(o), degraded(n))
}

// inUseChanged passes MultipathWWID creations and deletions, and updates of what the
// TeardownHeld message reads: the InUse condition, the consumers and the nodes the LUN is open on.
// The health controller's status.health writes, the bulk, are dropped.
type inUseChanged struct{ predicate.Funcs }

func (inUseChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*mpv1alpha1.MultipathWWID)
	n, ok2 := e.ObjectNew.(*mpv1alpha1.MultipathWWID)
	if !ok1 || !ok2 {
		return true
	}
	return o.Spec.Alias != n.Spec.Alias || o.Status.ConsumerCount != n.Status.ConsumerCount ||
		!slices.Equal(o.Status.Consumers, n.Status.Consumers) ||
		!apiequality.Semantic.DeepEqual(o.Status.OpenOn, n.Status.OpenOn) ||
		!apiequality.Semantic.DeepEqual(inUse(o), inUse(n))
}

// inUse is the part of the InUse condition the TeardownHeld message reads, nil when absent.
func inUse(w *mpv1alpha1.MultipathWWID) *metav1.Condition {
	c := conditions.Get(w, mpv1alpha1.InUseCondition)
	if c == nil {
		return nil
	}
	return &metav1.Condition{Status: c.Status, Reason: c.Reason, Message: c.Message}
}

// degraded is the part of the Degraded condition the rollout reads, nil when absent.
func degraded(s *mpv1alpha1.MultipathNodeState) *metav1.Condition {
	c := conditions.Get(s, mpv1alpha1.DegradedCondition)
	if c == nil {
		return nil
	}
	return &metav1.Condition{Status: c.Status, ObservedGeneration: c.ObservedGeneration}
}

// failed reports whether the agent failed to apply the current spec: Degraded True for the
// object's generation.
func failed(s *mpv1alpha1.MultipathNodeState) bool {
	c := conditions.Get(s, mpv1alpha1.DegradedCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation
}

// scope is what one pass reads, and what its phases pass on.
type scope struct {
	// config is the MultipathConfig `cluster`, also while it is being deleted. Set by gather;
	// nil when it does not exist, which tears every node down with the default budget.
	// reconcileFinalizer sets it to nil when it lets a forced deletion go.
	config *mpv1alpha1.MultipathConfig
	// deleting is true while config is being deleted: the selected nodes are rolled out the
	// deletion target, and no MultipathNodeState is created. Set by gather.
	deleting bool
	// before is config as read, for the status patch. Set by gather; nil with config.
	before *mpv1alpha1.MultipathConfig
	// nodes are every Node by name. Set by gather.
	nodes map[string]*corev1.Node
	// states are every MultipathNodeState by name. Set by gather; reconcileNodeStates removes the
	// ones it deletes and adds the ones it creates.
	states map[string]*mpv1alpha1.MultipathNodeState
	// selector selects the managed nodes. Set by gather; nil with config nil or selectorErr.
	selector labels.Selector
	// selectorErr is why spec.nodeSelector is unusable. Set by gather.
	selectorErr error
	// selected are the names of the selected nodes, sorted. Set by gather.
	selected []string
	// render is what the Rendered condition says about the current generation. Set by gather.
	render renderView
	// plan is the rollout plan against status.renderedConfig; nil without one, or with planErr.
	// Set by reconcileRollout.
	plan *rolloutplan.Plan
	// planErr is why the planner refused the input (a malformed spec.rollout). Set by
	// reconcileRollout.
	planErr error
	// held are the nodes kept on a config that is not the empty one while they are torn down
	// (their teardown config, or the deletion target), sorted. Set by reconcileRollout.
	held []string
	// heldRef is the config they keep. Set with held.
	heldRef mpv1alpha1.RenderedConfigRef
	// forced is what the force-remove annotation made this pass do, for its Event; empty when
	// nothing. Set by reconcileFinalizer and reconcileRollout.
	forced string
	// wave is the rollout wave (nil: none), waveCM its ConfigMap as read. Set by gatherWave,
	// replaced by publish.
	wave   *wave.Wave
	waveCM *corev1.ConfigMap
	// confirmed are the configs the agents confirm on their Leases, and failedHash the configs
	// they say they fail to apply, by node. Set by gatherWave.
	confirmed  map[string]*mpv1alpha1.RenderedConfigRef
	failedHash map[string]string
	// requeue is when a pass should run again for the wave's records; 0 when not needed.
	requeue time.Duration
}

// phase is one step of a pass.
type phase func(context.Context, *scope) (ctrl.Result, error)

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathnodestates,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathwwids,verbs=get;list;watch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=kube-multipath-system,resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=kube-multipath-system,resources=leases,verbs=get;list;watch

// Reconcile brings every MultipathNodeState and the MultipathConfig's rollout status in line with
// the desired state. It is the same work for every request.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("MultipathConfig", klog.KRef("", mpv1alpha1.ClusterConfigName))
	ctx = ctrl.LoggerInto(ctx, log)

	s, err := r.gather(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if waiting := r.expect.unsatisfied(s.states, time.Now()); len(waiting) > 0 {
		log.V(4).Info("Waiting for the cache to show written MultipathNodeStates", "names", waiting)
		return ctrl.Result{RequeueAfter: cacheWait}, nil
	}
	if seen, err := r.gatherWave(ctx, s); err != nil || !seen {
		log.V(4).Info("Waiting for the cache to show the rollout wave written last")
		return ctrl.Result{RequeueAfter: cacheWait}, err
	}
	// The finalizer first: a MultipathConfig deleted before it carries it is torn down without
	// its budget (the object is gone at once).
	if res, err := r.reconcileFinalizer(ctx, s); err != nil || res.RequeueAfter > 0 {
		return res, err
	}
	phases := []phase{r.reconcileNodeStates, r.reconcileRollout}
	if s.config != nil {
		phases = append(phases, r.updateStatus, r.reconcileForceAnnotation, r.releaseFinalizer)
	}
	return doReconcile(ctx, s, phases)
}

// doReconcile runs every phase in order, even after an error, so that the status reports what
// could be done; it returns the errors joined and the lowest non-zero requeue.
func doReconcile(ctx context.Context, s *scope, phases []phase) (ctrl.Result, error) {
	var (
		res  ctrl.Result
		errs []error
	)
	for _, p := range phases {
		pr, err := p(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pr.RequeueAfter > 0 && (res.RequeueAfter == 0 || pr.RequeueAfter < res.RequeueAfter) {
			res.RequeueAfter = pr.RequeueAfter
		}
	}
	if len(errs) > 0 {
		return ctrl.Result{}, errors.Join(errs...)
	}
	return res, nil
}

// gather reads the inputs of a pass from the cache.
func (r *Reconciler) gather(ctx context.Context) (*scope, error) {
	s := &scope{}
	cfg := &mpv1alpha1.MultipathConfig{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("failed to get MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err)
	default:
		s.config, s.before = cfg, cfg.DeepCopy()
		s.deleting = !cfg.DeletionTimestamp.IsZero()
	}

	nodes := &corev1.NodeList{}
	if err := r.Client.List(ctx, nodes); err != nil {
		return nil, fmt.Errorf("failed to list Nodes: %w", err)
	}
	s.nodes = make(map[string]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		s.nodes[nodes.Items[i].Name] = &nodes.Items[i]
	}
	// The cache's own objects, not copies: at 1,000 nodes reporting 100 maps each, copying every
	// MultipathNodeState was a fifth of the manager's allocations. Only the struct of each item
	// is this pass's own; what it points to is shared with the cache, so a state is written
	// through a copy (setDesired, adoptState).
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := r.Client.List(ctx, states, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list MultipathNodeStates: %w", err)
	}
	s.states = make(map[string]*mpv1alpha1.MultipathNodeState, len(states.Items))
	for i := range states.Items {
		s.states[states.Items[i].Name] = &states.Items[i]
	}

	if s.config == nil {
		return s, nil
	}
	s.render = readRender(s.config)
	if s.selector, s.selectorErr = rules.ConfigSelector(s.config); s.selectorErr != nil {
		return s, nil
	}
	for name, n := range s.nodes {
		if s.selector.Matches(labels.Set(n.Labels)) {
			s.selected = append(s.selected, name)
		}
	}
	slices.Sort(s.selected)
	return s, nil
}

// managed reports whether the node named name is selected. With an unusable selector every node
// counts as managed, so that nothing is torn down because of a typo.
func (s *scope) managed(name string) bool {
	if s.config == nil {
		return false
	}
	if s.selectorErr != nil {
		return true
	}
	_, found := slices.BinarySearch(s.selected, name)
	return found
}

// reconcileNodeStates deletes the MultipathNodeStates of removed nodes, tears down the nodes that
// are no longer managed, and creates the missing MultipathNodeStates of selected nodes.
func (r *Reconciler) reconcileNodeStates(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.states)) {
		st := s.states[name]
		if !st.DeletionTimestamp.IsZero() {
			continue
		}
		node := s.nodes[name]
		if node == nil || !ownerMatches(st, node) {
			if err := r.deleteState(ctx, s, st, "Deleting the MultipathNodeState of a removed Node"); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !s.managed(name) || s.deleting {
			if err := r.deleteIfTornDown(ctx, s, st); err != nil {
				errs = append(errs, err)
			}
			if _, ok := s.states[name]; !ok || !s.managed(name) {
				continue
			}
		}
		if !hasOwner(st, node) {
			if err := r.adoptState(ctx, st, node); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.selectorErr == nil && !s.deleting {
		for _, name := range s.selected {
			if _, ok := s.states[name]; ok {
				continue
			}
			if err := r.createState(ctx, s, s.nodes[name]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// nodeOwner is the ownerReference of a MultipathNodeState to its Node.
func nodeOwner(n *corev1.Node) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}
}

func nodeOwnerRef(st *mpv1alpha1.MultipathNodeState) *metav1.OwnerReference {
	for i, ref := range st.OwnerReferences {
		if ref.APIVersion == "v1" && ref.Kind == "Node" && ref.Name == st.Name {
			return &st.OwnerReferences[i]
		}
	}
	return nil
}

// ownerMatches is false when the object is owned by an earlier Node of the same name: garbage
// collection deletes such an object, and so does this controller.
func ownerMatches(st *mpv1alpha1.MultipathNodeState, n *corev1.Node) bool {
	ref := nodeOwnerRef(st)
	return ref == nil || ref.UID == n.UID
}

func hasOwner(st *mpv1alpha1.MultipathNodeState, n *corev1.Node) bool {
	ref := nodeOwnerRef(st)
	return ref != nil && ref.UID == n.UID
}

func (r *Reconciler) createState(ctx context.Context, s *scope, node *corev1.Node) error {
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{
		Name:            node.Name,
		OwnerReferences: []metav1.OwnerReference{nodeOwner(node)},
	}}
	ctrl.LoggerFrom(ctx).Info("Creating MultipathNodeState", "Node", klog.KObj(node))
	if err := r.Client.Create(ctx, st); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// The cache is behind; the next pass sees it.
			return nil
		}
		return fmt.Errorf("failed to create MultipathNodeState for Node %s: %w", klog.KObj(node), err)
	}
	r.expect.wrote(st)
	s.states[st.Name] = st
	return nil
}

func (r *Reconciler) adoptState(ctx context.Context, st *mpv1alpha1.MultipathNodeState, node *corev1.Node) error {
	w := st.DeepCopy() // st points into the cache (see gather)
	w.OwnerReferences = append(slices.DeleteFunc(w.OwnerReferences, func(ref metav1.OwnerReference) bool {
		return ref.APIVersion == "v1" && ref.Kind == "Node"
	}), nodeOwner(node))
	ctrl.LoggerFrom(ctx).Info("Setting the owner of MultipathNodeState", "MultipathNodeState", klog.KObj(st), "Node", klog.KObj(node))
	if err := r.Client.Patch(ctx, w, client.MergeFrom(st)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to set the owner of MultipathNodeState %s: %w", klog.KObj(st), err)
	}
	*st = *w
	r.expect.wrote(st)
	return nil
}

// deleteIfTornDown deletes the MultipathNodeState of a node being torn down once the agent
// reports it applied the empty config, or at once when it was never handed anything. Handing
// the teardown config out is the rollout's, through the budget (reconcileRollout).
func (r *Reconciler) deleteIfTornDown(ctx context.Context, s *scope, st *mpv1alpha1.MultipathNodeState) error {
	empty := emptyConfig()
	applied, desired := s.appliedOf(st, &empty), s.desiredOf(st)
	switch {
	case desired == nil && applied == nil:
		return r.deleteState(ctx, s, st, "Deleting the MultipathNodeState of a node that was never configured")
	case applied != nil && *applied == emptyConfig() && (desired == nil || *desired == emptyConfig()):
		return r.deleteState(ctx, s, st, "Deleting the MultipathNodeState of a torn down node")
	}
	return nil
}

func (r *Reconciler) deleteState(ctx context.Context, s *scope, st *mpv1alpha1.MultipathNodeState, msg string) error {
	ctrl.LoggerFrom(ctx).Info(msg, "MultipathNodeState", klog.KObj(st))
	if err := r.Client.Delete(ctx, st, client.Preconditions{UID: &st.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to delete MultipathNodeState %s: %w", klog.KObj(st), err)
	}
	r.expect.deleted(st)
	delete(s.states, st.Name)
	return nil
}

// setDesired writes spec.desiredConfig; it is the only field of a MultipathNodeState's spec.
// st points into the cache (see gather): the patch is made, and its response decoded, into a
// copy, which then replaces the pass's struct.
func (r *Reconciler) setDesired(ctx context.Context, st *mpv1alpha1.MultipathNodeState, ref mpv1alpha1.RenderedConfigRef) error {
	w := st.DeepCopy()
	w.Spec.DesiredConfig = &ref
	if err := r.Client.Patch(ctx, w, client.MergeFrom(st)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile; the next pass sees it
		}
		return fmt.Errorf("failed to set the desired config of MultipathNodeState %s to %s: %w", klog.KObj(st), ref.Name, err)
	}
	*st = *w
	r.expect.wrote(st)
	return nil
}

// reconcileRollout plans the rollout of status.renderedConfig over the selected nodes, and the
// teardown of the others, under one budget, and hands them out. While the render of the current
// generation is pending, the plan only feeds the status.
//
// The selected nodes get status.renderedConfig; while the MultipathConfig is being deleted,
// that is the deletion target (deletionTarget). A node being torn down gets its teardown config
// (teardownConfig). A MultipathConfig that is gone tears every node down with the default budget.
func (r *Reconciler) reconcileRollout(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.selectorErr != nil {
		return ctrl.Result{}, nil
	}
	var (
		target   *mpv1alpha1.RenderedConfigRef
		teardown = emptyConfig()
		in       rolloutplan.Input
	)
	if cfg := s.config; cfg != nil {
		in.MaxUnavailable, in.Paused = cfg.Spec.Rollout.MaxUnavailable, cfg.Spec.Rollout.Paused
		teardown = s.teardownConfig()
		switch {
		case s.deleting:
			target = new(s.deletionTarget())
		case cfg.Status.RenderedConfig != nil:
			target = new(cfg.Status.RenderedConfig.RenderedConfigRef)
		}
	}
	if target != nil {
		in.Target = *target
		for _, name := range s.selected {
			n := rolloutplan.Node{Name: name, Ready: rules.NodeReady(s.nodes[name])}
			st := s.states[name]
			switch {
			case st != nil && st.DeletionTimestamp.IsZero():
				n.Desired, n.Applied, n.Failed = s.desiredOf(st), s.appliedOf(st, target), s.failedOf(st)
			case s.deleting:
				continue // nothing to tear down there
			default:
				// Its MultipathNodeState is missing or going away: nothing can be handed to it yet.
				n.Ready = false
			}
			in.Nodes = append(in.Nodes, n)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.states)) {
		st := s.states[name]
		if s.managed(name) || !st.DeletionTimestamp.IsZero() || s.nodes[name] == nil {
			continue
		}
		in.Nodes = append(in.Nodes, rolloutplan.Node{
			Name: name, Ready: rules.NodeReady(s.nodes[name]), Teardown: &teardown,
			Desired: s.desiredOf(st), Applied: s.appliedOf(st, &teardown), Failed: s.failedOf(st),
		})
	}
	s.noteHeld(in)
	if target == nil && len(in.Nodes) == 0 {
		return ctrl.Result{}, nil
	}
	plan, err := rolloutplan.Compute(in)
	if err != nil {
		s.planErr = err
		return ctrl.Result{}, nil
	}
	s.plan = &plan
	if s.config != nil && s.render.state == renderPending {
		return ctrl.Result{}, nil
	}

	log := ctrl.LoggerFrom(ctx)
	configOf := func(name string) mpv1alpha1.RenderedConfigRef {
		if s.managed(name) {
			return *target
		}
		return teardown
	}
	if s.config != nil && !s.deleting && s.forceRequested() && s.config.Status.HeldConfig != nil {
		var forced []string
		for _, name := range plan.Start {
			if !s.managed(name) {
				forced = append(forced, name)
			}
		}
		if len(forced) > 0 {
			s.forced = fmt.Sprintf("tearing down %s with the empty config instead of the held config %s", list(forced), s.config.Status.HeldConfig.Name)
		}
	}
	errs := r.handOut(ctx, s, target, plan.Start, configOf)
	// A node the wave names gets its spec from the wave (handOut), except the config it already
	// runs when the target moved away from the wave's (a rollback).
	adopt := slices.DeleteFunc(slices.Clone(plan.Adopt), func(name string) bool {
		return s.wave.HasState(s.states[name]) && (target == nil || s.wave.Config == *target)
	})
	errs = append(errs, fanout.Each(ctx, len(adopt), func(ctx context.Context, i int) error {
		name := adopt[i]
		ref := configOf(name)
		log.Info("Recording the config the node already runs", "Node", klog.KRef("", name), "config", ref.Name)
		return r.setDesired(ctx, s.states[name], ref)
	})...)
	return ctrl.Result{RequeueAfter: s.requeue}, errors.Join(errs...)
}

// updateStatus writes the MultipathConfig's rollout status when it changed, then the Events of
// the transitions it made.
func (r *Reconciler) updateStatus(ctx context.Context, s *scope) (ctrl.Result, error) {
	in := statusInput{render: s.render, selectorErr: s.selectorErr, planErr: s.planErr, selected: int32(len(s.selected)), deleting: s.deleting}
	if len(s.held) > 0 {
		wwids := &mpv1alpha1.MultipathWWIDList{}
		if err := r.Client.List(ctx, wwids, client.UnsafeDisableDeepCopy); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to list MultipathWWIDs: %w", err)
		}
		in.held = heldMessage(s.config.Name, s.held, s.heldRef, wwids.Items)
	}
	if s.plan != nil {
		in.plan = &s.plan.Status
	}
	for _, name := range s.selected {
		if !rules.NodeReady(s.nodes[name]) {
			in.unknown++
		}
	}
	cfg := s.config
	setStatus(cfg, in)
	if apiequality.Semantic.DeepEqual(s.before.Status, cfg.Status) {
		return ctrl.Result{}, nil
	}
	// The render controller writes the same status; the optimistic lock keeps either from
	// overwriting the other's fields with what it read before.
	if err := r.Client.Status().Patch(ctx, cfg, client.MergeFromWithOptions(s.before, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			ctrl.LoggerFrom(ctx).V(4).Info("MultipathConfig changed while the status was computed; retrying")
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to update status of MultipathConfig %s: %w", klog.KObj(cfg), err)
	}
	for _, e := range transitionEvents(s.before, cfg) {
		r.Recorder.Eventf(cfg, nil, e.eventType, e.reason, "Rollout", "%s", e.note)
	}
	return ctrl.Result{}, nil
}

// expectations remembers, per MultipathNodeState name, the object this controller last wrote or
// deleted, until the cache shows it.
type expectations struct {
	mu sync.Mutex
	m  map[string]expectation
}

type expectation struct {
	uid        types.UID
	generation int64
	deleted    bool
	at         time.Time
}

func (e *expectations) set(name string, x expectation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]expectation{}
	}
	e.m[name] = x
}

// wrote records that st, as the API server returned it, was written.
func (e *expectations) wrote(st *mpv1alpha1.MultipathNodeState) {
	e.set(st.Name, expectation{uid: st.UID, generation: st.Generation, at: time.Now()})
}

// deleted records that st was deleted.
func (e *expectations) deleted(st *mpv1alpha1.MultipathNodeState) {
	e.set(st.Name, expectation{uid: st.UID, deleted: true, at: time.Now()})
}

// unsatisfied forgets the expectations that states (the cache) meets or that expired, and returns
// the names of the others, sorted.
func (e *expectations) unsatisfied(states map[string]*mpv1alpha1.MultipathNodeState, now time.Time) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for name, x := range e.m {
		st := states[name]
		met := x.deleted && (st == nil || st.UID != x.uid) ||
			!x.deleted && st != nil && st.UID == x.uid && st.Generation >= x.generation
		if met || now.Sub(x.at) > expectationTTL {
			delete(e.m, name)
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
