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

package render

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/fanout"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/lun"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

const (
	// RenderedLabel marks the ConfigMaps this controller writes, so it can list and prune them.
	RenderedLabel = "multipath.kube-multipath.io/rendered"
	// HashAnnotation holds the full content hash on a rendered ConfigMap.
	HashAnnotation = "multipath.kube-multipath.io/hash"

	// DefaultHistory is how many rendered ConfigMaps are kept besides the current one and those
	// that a node still names, for rollback.
	DefaultHistory = 5
)

// Reconciler renders the desired state into a ConfigMap and writes the statuses of the
// MultipathConfig (status.renderedConfig and the Rendered condition) and of every MultipathWWID.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Namespace is where rendered ConfigMaps are written: the operator's namespace.
	Namespace string
	// History is how many older rendered ConfigMaps are kept; DefaultHistory when zero.
	History int
	// APIReader, optional, reads the MultipathConfig afresh when its status write conflicts
	// (the health and rollout controllers write the same status): the new render is then
	// published at once, not after another whole pass. Without it the pass is retried.
	APIReader client.Reader
}

// request is the one work item every event maps to.
var request = reconcile.Request{NamespacedName: types.NamespacedName{Name: mpv1alpha1.ClusterConfigName}}

func toCluster(context.Context, client.Object) []reconcile.Request {
	return []reconcile.Request{request}
}

// SetupWithManager registers the controller. It reads the index.PVNamesAny index, which
// index.AddDefaultIndexes registers; the PersistentVolume cache must be trimmed with
// consumers.Transform (see cmd/manager/app) so 10,000 volumes stay cheap.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil || r.Recorder == nil || r.Namespace == "" {
		return fmt.Errorf("render controller needs a client, an event recorder and a namespace")
	}
	mapped := handler.EnqueueRequestsFromMapFunc(toCluster)
	return ctrl.NewControllerManagedBy(mgr).
		Named("render").
		Watches(&mpv1alpha1.MultipathConfig{}, mapped, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionChanged{}))).
		Watches(&mpv1alpha1.MultipathWWID{}, mapped, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionChanged{}, expectedNowhereChanged{}))).
		Watches(&mpv1alpha1.MultipathNodeState{}, mapped, builder.WithPredicates(openMapsChanged{})).
		Watches(&corev1.PersistentVolume{}, mapped, builder.WithPredicates(consumerRefsChanged{})).
		Watches(&corev1.ConfigMap{}, mapped, builder.WithPredicates(renderedConfigMapDeleted{r.Namespace})).
		Complete(r)
}

// deletionChanged lets through the update that sets deletionTimestamp, and finalizer changes.
type deletionChanged struct{ predicate.Funcs }

func (deletionChanged) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() ||
		!slices.Equal(e.ObjectOld.GetFinalizers(), e.ObjectNew.GetFinalizers())
}

// expectedNowhereChanged lets through the health write that makes a LUN expected on no node,
// or on some again: Ready depends on it. Other health writes are not the render's business.
type expectedNowhereChanged struct{ predicate.Funcs }

func (expectedNowhereChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*mpv1alpha1.MultipathWWID)
	n, ok2 := e.ObjectNew.(*mpv1alpha1.MultipathWWID)
	return ok1 && ok2 && noExpectedNodes(o) != noExpectedNodes(n)
}

// openMapsChanged lets through a MultipathNodeState event only when what holds its maps open
// changes, or its WouldRename host conflicts (a refused adoption holds the LUN out of the
// render): agents report path states often, and those do not change the render.
type openMapsChanged struct{}

func (openMapsChanged) Create(e event.CreateEvent) bool {
	return len(openMaps(e.Object)) > 0 || len(wouldRename(e.Object)) > 0
}
func (openMapsChanged) Delete(e event.DeleteEvent) bool {
	return len(openMaps(e.Object)) > 0 || len(wouldRename(e.Object)) > 0
}
func (openMapsChanged) Generic(event.GenericEvent) bool { return false }
func (openMapsChanged) Update(e event.UpdateEvent) bool {
	return !slices.EqualFunc(openMaps(e.ObjectOld), openMaps(e.ObjectNew), func(a, b *mpv1alpha1.MapStatus) bool {
		return a.WWID == b.WWID && a.Name == b.Name && a.OpenCount == b.OpenCount && slices.Equal(a.Users, b.Users)
	}) || !slices.EqualFunc(wouldRename(e.ObjectOld), wouldRename(e.ObjectNew), func(a, b *mpv1alpha1.HostConflict) bool {
		return a.WWID == b.WWID && a.Alias == b.Alias
	})
}

// wouldRename are the WouldRename host conflicts of a MultipathNodeState, in report order.
func wouldRename(o client.Object) []*mpv1alpha1.HostConflict {
	s, ok := o.(*mpv1alpha1.MultipathNodeState)
	if !ok {
		return nil
	}
	var out []*mpv1alpha1.HostConflict
	for i := range s.Status.HostConflicts {
		if s.Status.HostConflicts[i].Type == mpv1alpha1.HostConflictWouldRename {
			out = append(out, &s.Status.HostConflicts[i])
		}
	}
	return out
}

// openMaps are the maps of a MultipathNodeState that something holds open, in report order.
func openMaps(o client.Object) []*mpv1alpha1.MapStatus {
	s, ok := o.(*mpv1alpha1.MultipathNodeState)
	if !ok {
		return nil
	}
	var out []*mpv1alpha1.MapStatus
	for i := range s.Status.Maps {
		if consumers.IsOpen(&s.Status.Maps[i]) {
			out = append(out, &s.Status.Maps[i])
		}
	}
	return out
}

// consumerRefsChanged drops PersistentVolume updates that change nothing the render reads.
type consumerRefsChanged struct{ predicate.Funcs }

func (consumerRefsChanged) Create(event.CreateEvent) bool { return true }
func (consumerRefsChanged) Delete(event.DeleteEvent) bool { return true }
func (consumerRefsChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.PersistentVolume)
	n, ok2 := e.ObjectNew.(*corev1.PersistentVolume)
	return !ok1 || !ok2 || !slices.Equal(consumers.Refs(o), consumers.Refs(n))
}

// renderedConfigMapDeleted re-renders when someone deletes a rendered ConfigMap.
type renderedConfigMapDeleted struct{ namespace string }

func (p renderedConfigMapDeleted) Create(event.CreateEvent) bool   { return false }
func (p renderedConfigMapDeleted) Update(event.UpdateEvent) bool   { return false }
func (p renderedConfigMapDeleted) Generic(event.GenericEvent) bool { return false }
func (p renderedConfigMapDeleted) Delete(e event.DeleteEvent) bool {
	return e.Object.GetNamespace() == p.namespace && e.Object.GetLabels()[RenderedLabel] == "true"
}

// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs;multipathwwids,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathconfigs/status;multipathwwids/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathwwids/finalizers,verbs=update
// +kubebuilder:rbac:groups=multipath.kube-multipath.io,resources=multipathnodestates,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=kube-multipath-system,resources=configmaps,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile renders the whole desired state. It is the same work for every request.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	in, err := r.gather(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	out := decide(in)

	rendered, held := r.renderConfigs(in.config, &out)
	if rendered != nil {
		rendersTotal.Inc()
		if err := r.ensureConfigMap(ctx, rendered); err != nil {
			return ctrl.Result{}, err
		}
	}
	if held != nil {
		if err := r.ensureConfigMap(ctx, held); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.ensureEmptyConfigMap(ctx); err != nil {
		return ctrl.Result{}, err
	}
	var errs []error
	// The MultipathConfig first: its status.renderedConfig is what the rollout hands to the
	// nodes, and a burst of new LUNs must not hold it back behind their own status writes.
	if in.config != nil {
		if err := r.writeConfig(ctx, in.config, rendered, held, &out); err != nil {
			errs = append(errs, err)
		}
	}
	// At most maxWritesPerPass LUNs are written per pass, finalizer changes first: after a sync
	// of thousands of LUNs, the next render (and its publication above) must not wait behind
	// thousands of status writes. The rest are written by the passes that follow at once.
	var order, rest []int
	for i := range in.wwids {
		if finalizerChange(&in.wwids[i], out.luns[in.wwids[i].Name]) {
			order = append(order, i)
		} else {
			rest = append(rest, i)
		}
	}
	order = append(order, rest...)
	var budget atomic.Int32
	budget.Store(maxWritesPerPass)
	var deferred atomic.Bool
	allow := func() bool {
		if budget.Add(-1) < 0 {
			deferred.Store(true)
			return false
		}
		return true
	}
	errs = append(errs, fanout.Each(ctx, len(order), func(ctx context.Context, k int) error {
		i := order[k]
		return r.writeWWID(ctx, &in.wwids[i], out.luns[in.wwids[i].Name], rendered != nil, allow)
	})...)
	if len(errs) > 0 {
		err := errors.Join(errs...)
		if conditions.OnlyConflicts(errs) {
			// Another controller wrote the same status first; the next pass reads it.
			log.V(4).Info("Status write conflict, retrying", "error", err)
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("writing statuses: %w", err)
	}
	if rendered != nil {
		if err := r.prune(ctx, rendered, held); err != nil {
			return ctrl.Result{}, err
		}
		log.V(4).Info("Rendered", "hash", rendered.ShortHash(), "luns", rendered.LUNs, "bytes", rendered.Bytes)
	}
	if deferred.Load() {
		log.V(4).Info("More LUN statuses to write; continuing in the next pass", "perPass", maxWritesPerPass)
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	return ctrl.Result{}, nil
}

// maxWritesPerPass bounds the MultipathWWID writes of one render pass, finalizer changes first.
const maxWritesPerPass = fanout.MaxWritesPerPass

// renderConfigs renders status.renderedConfig and status.heldConfig from the decision; nil
// when the config cannot be rendered (out.configErr says why; the nodes keep the last good
// one). While the MultipathConfig is being deleted the rendered config is the held one, or the
// empty config once nothing is held. Without a MultipathConfig there is no held config: nothing
// would name it.
func (r *Reconciler) renderConfigs(cfg *mpv1alpha1.MultipathConfig, out *decision) (rendered, held *multipathconf.Rendered) {
	if out.configErr != "" {
		return nil, nil
	}
	var err error
	if out.deleting && len(out.render) == 0 {
		rendered = multipathconf.Empty()
	} else if rendered, err = multipathconf.Render(cfg, out.render); err != nil {
		// The rules package refused what validation let through: keep the last good config.
		out.configErr = err.Error()
		return nil, nil
	}
	switch {
	case cfg == nil || len(out.held) == 0:
	case out.deleting:
		held = rendered
	case len(out.held) == len(out.render):
		// Every rendered LUN is in use: the held config is this render (decide keeps the
		// render's order), not a second render of the same LUNs.
		held = rendered
	default:
		if held, err = multipathconf.Render(cfg, out.held); err != nil {
			out.configErr = "rendering the in-use LUNs held for teardown: " + err.Error()
			return nil, nil
		}
	}
	return rendered, held
}

// finalizerChange reports whether the decision adds or removes w's in-use finalizer.
func finalizerChange(w *mpv1alpha1.MultipathWWID, o lunOutcome) bool {
	return o.keepFinalizer != controllerutil.ContainsFinalizer(w, mpv1alpha1.InUseFinalizer)
}

// inputs is everything the decision reads.
type inputs struct {
	config *mpv1alpha1.MultipathConfig
	wwids  []mpv1alpha1.MultipathWWID
	pvs    []corev1.PersistentVolume
	// states are the MultipathNodeStates, for the maps their agents report open.
	states []mpv1alpha1.MultipathNodeState
}

func (r *Reconciler) gather(ctx context.Context) (inputs, error) {
	var in inputs
	cfg := &mpv1alpha1.MultipathConfig{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return in, fmt.Errorf("failed to get MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err)
	default:
		in.config = cfg
	}
	// The cache's own objects, not copies (10,000 deep copies per pass were most of its cost):
	// nothing here changes them, and writeWWID copies the one it writes.
	wwids := &mpv1alpha1.MultipathWWIDList{}
	if err := r.Client.List(ctx, wwids, client.UnsafeDisableDeepCopy); err != nil {
		return in, fmt.Errorf("failed to list MultipathWWIDs: %w", err)
	}
	in.wwids = wwids.Items
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := r.Client.List(ctx, states, client.UnsafeDisableDeepCopy); err != nil {
		return in, fmt.Errorf("failed to list MultipathNodeStates: %w", err)
	}
	in.states = states.Items
	// Only volumes that name something that looks like a WWID or an alias are read (one index
	// lookup, however many other volumes the cluster has), and of those the ones that name one
	// of these LUNs: at 10,000 LUNs, a lookup per LUN key was 20,000 lists per pass.
	keys := make(map[string]bool, 2*len(in.wwids))
	for i := range in.wwids {
		for _, key := range lun.Names(&in.wwids[i]) {
			keys[key] = true
		}
	}
	pvs := &corev1.PersistentVolumeList{}
	if err := r.Client.List(ctx, pvs, client.MatchingFields{index.PVNamesAny: "true"}, client.UnsafeDisableDeepCopy); err != nil {
		return in, fmt.Errorf("failed to list PersistentVolumes that name a WWID: %w", err)
	}
	// Filtered in place: the list is this pass's own shallow copy, and a second one of 10,000
	// volumes was most of what a pass held at once after the LUNs.
	in.pvs = pvs.Items[:0]
	for i := range pvs.Items {
		if slices.ContainsFunc(consumers.Refs(&pvs.Items[i]), func(k string) bool { return keys[k] }) {
			in.pvs = append(in.pvs, pvs.Items[i])
		}
	}
	return in, nil
}

func renderedWWIDs(ws []mpv1alpha1.MultipathWWID) []string {
	out := make([]string, len(ws))
	for i := range ws {
		out[i] = ws[i].Spec.WWID
	}
	return out
}

// ensureConfigMap creates the immutable ConfigMap for a render; an existing one with the same
// name holds the same content (the name is the content hash), so nothing is written.
func (r *Reconciler) ensureConfigMap(ctx context.Context, rendered *multipathconf.Rendered) error {
	existing := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: rendered.ConfigMapName()}, existing)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to get ConfigMap %s: %w", rendered.ConfigMapName(), err)
	}
	data, binaryData, err := multipathconf.Pack(rendered)
	if err != nil {
		return fmt.Errorf("packing rendered config %s: %w", rendered.ShortHash(), err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace,
			Name:      rendered.ConfigMapName(),
			Labels: map[string]string{
				RenderedLabel:                  "true",
				"app.kubernetes.io/managed-by": "kube-multipath",
			},
			Annotations: map[string]string{HashAnnotation: rendered.Hash},
		},
		Immutable:  ptr.To(true),
		Data:       data,
		BinaryData: binaryData,
	}
	ctrl.LoggerFrom(ctx).Info("Writing rendered config", "ConfigMap", klog.KObj(cm), "luns", rendered.LUNs, "bytes", rendered.Bytes)
	if err := r.Client.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create ConfigMap %s: %w", klog.KObj(cm), err)
	}
	configMapWritesTotal.Inc()
	return nil
}

func (r *Reconciler) ensureEmptyConfigMap(ctx context.Context) error {
	return r.ensureConfigMap(ctx, multipathconf.Empty())
}

// prune deletes rendered ConfigMaps beyond the history, never the current one, the held one,
// the empty one, or one that a MultipathNodeState names as desired or applied.
func (r *Reconciler) prune(ctx context.Context, current, held *multipathconf.Rendered) error {
	cms := &corev1.ConfigMapList{}
	if err := r.Client.List(ctx, cms, client.InNamespace(r.Namespace), client.MatchingLabels{RenderedLabel: "true"}); err != nil {
		return fmt.Errorf("failed to list rendered ConfigMaps: %w", err)
	}
	history := r.History
	if history <= 0 {
		history = DefaultHistory
	}
	if len(cms.Items) <= history+2 {
		return nil
	}
	keep := map[string]bool{current.ConfigMapName(): true, multipathconf.Empty().ConfigMapName(): true}
	if held != nil {
		keep[held.ConfigMapName()] = true
	}
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := r.Client.List(ctx, states); err != nil {
		return fmt.Errorf("failed to list MultipathNodeStates: %w", err)
	}
	waveCM := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: wave.Name}, waveCM); err == nil {
		if w, err := wave.FromConfigMap(waveCM); err == nil && len(w.Nodes) > 0 {
			keep[w.Config.Name] = true // handed out by the rollout wave, maybe not recorded yet
		}
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to get the rollout wave: %w", err)
	}
	for _, s := range states.Items {
		if d := s.Spec.DesiredConfig; d != nil {
			keep[d.Name] = true
		}
		if a := s.Status.AppliedConfig; a != nil {
			keep[a.Name] = true
		}
	}
	slices.SortFunc(cms.Items, func(a, b corev1.ConfigMap) int {
		return cmp.Or(b.CreationTimestamp.Compare(a.CreationTimestamp.Time), strings.Compare(b.Name, a.Name))
	})
	kept := 0
	for i := range cms.Items {
		cm := &cms.Items[i]
		if keep[cm.Name] {
			continue
		}
		if kept < history {
			kept++
			continue
		}
		ctrl.LoggerFrom(ctx).Info("Deleting old rendered config", "ConfigMap", klog.KObj(cm))
		if err := r.Client.Delete(ctx, cm, client.Preconditions{UID: &cm.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to delete ConfigMap %s: %w", klog.KObj(cm), err)
		}
	}
	return nil
}

// writeWWID brings one MultipathWWID's finalizer, status and force annotation in line with
// the decision, writing only what changed.
// allow is asked before each write; when it says no, the write is left for a later pass.
func (r *Reconciler) writeWWID(ctx context.Context, cached *mpv1alpha1.MultipathWWID, o lunOutcome, renderedOK bool, allow func() bool) error {
	if upToDate(cached, o, renderedOK) {
		return nil
	}
	// cached is the informer's object (gather lists without copying): it is never changed;
	// base is what the patches are computed from, w the copy that is changed and written.
	base, w := cached, cached.DeepCopy()
	if o.keepFinalizer && w.DeletionTimestamp.IsZero() || !o.keepFinalizer {
		var changed bool
		if o.keepFinalizer {
			changed = controllerutil.AddFinalizer(w, mpv1alpha1.InUseFinalizer)
		} else {
			changed = controllerutil.RemoveFinalizer(w, mpv1alpha1.InUseFinalizer)
		}
		if changed {
			if !allow() {
				return nil
			}
			if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				if apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("failed to update finalizers of MultipathWWID %s: %w", klog.KObj(w), err)
			}
			if !o.keepFinalizer && !w.DeletionTimestamp.IsZero() {
				if o.forced == forcedDeletion {
					r.Recorder.Eventf(w, nil, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, "ForceDelete",
						"Forced deletion (%s=true): the LUN leaves the rendered config while %s", mpv1alpha1.ForceRemoveAnnotation, holders(o.consumers, o.openOn))
				}
				return nil // the object is going away
			}
			base = w.DeepCopy() // the object as the patch left it
		}
	}
	if !w.DeletionTimestamp.IsZero() && !o.keepFinalizer {
		return nil
	}

	setWWIDStatus(w, o, renderedOK)
	st := &w.Status
	if !apiequality.Semantic.DeepEqual(base.Status, w.Status) {
		if !allow() {
			return nil
		}
		r.emitWWIDEvents(w, base, o)
		// Optimistic lock: the health controller writes status.health of the same object.
		if err := r.Client.Status().Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("failed to update status of MultipathWWID %s: %w", klog.KObj(w), err)
		}
	}
	// A forced rename is honoured once the render holds it: the annotation has done its job and
	// must not let the next change of an in-use LUN through unnoticed.
	if o.forced == forcedRename && o.rendered && renderedOK && st.RenderedAlias != nil && *st.RenderedAlias == w.Spec.Alias {
		if !allow() {
			return nil
		}
		base = w.DeepCopy()
		delete(w.Annotations, mpv1alpha1.ForceRemoveAnnotation)
		if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("failed to remove the force annotation of MultipathWWID %s: %w", klog.KObj(w), err)
		}
		r.Recorder.Eventf(w, nil, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, "ForceRename",
			"Forced alias change (%s=true) rendered: /dev/mapper/%s becomes /dev/mapper/%s on every node while %s; the annotation is removed",
			mpv1alpha1.ForceRemoveAnnotation, lun.MapName(w.Spec.WWID, o.previousAlias), lun.MapName(w.Spec.WWID, o.renderedAlias), holders(o.harmed, o.openOn))
	}
	return nil
}

// upToDate reports whether writeWWID would write nothing: no finalizer to add or remove, the
// render's part of the status as the outcome has it, no forced rename to finish. It works out
// the status on a shallow copy of cached, which setWWIDStatus never writes through (conditions
// are replaced, not changed in place): most LUNs of most passes are up to date, and a deep copy
// of each of 10,000 to find that out was a quarter of the manager's garbage while a join of
// 990 nodes settled.
func upToDate(cached *mpv1alpha1.MultipathWWID, o lunOutcome, renderedOK bool) bool {
	deleting := !cached.DeletionTimestamp.IsZero()
	switch {
	case finalizerChange(cached, o) && !(o.keepFinalizer && deleting):
		return false // a finalizer to add or remove (none is added to an object being deleted)
	case deleting && !o.keepFinalizer:
		return true
	case o.forced == forcedRename:
		return false // rare: the whole of writeWWID decides
	}
	w := *cached
	setWWIDStatus(&w, o, renderedOK)
	return apiequality.Semantic.DeepEqual(cached.Status, w.Status)
}

// setWWIDStatus sets the render's part of w's status from the outcome: the consumers, the maps
// open on nodes, the rendered and former aliases, the conditions. It replaces fields and never
// writes through them, so w may be a shallow copy of a cached object.
func setWWIDStatus(w *mpv1alpha1.MultipathWWID, o lunOutcome, renderedOK bool) {
	st := &w.Status
	st.Consumers = o.consumers
	if len(st.Consumers) > 64 {
		st.Consumers = st.Consumers[:64]
	}
	st.ConsumerCount = int32(len(o.consumers))
	st.OpenOn = o.openOn
	if o.rendered && renderedOK {
		st.RenderedAlias = ptr.To(o.renderedAlias)
		st.FormerAliases = o.formerAliases
	} else if !o.rendered {
		st.RenderedAlias = nil
		st.FormerAliases = o.formerAliases
	}
	setWWIDConditions(w, o)
	st.ObservedGeneration = w.Generation
}

// holders says who uses a LUN: "PersistentVolume a uses it", "/dev/mapper/x is mounted at /m on
// node n", or both joined by "; ".
func holders(pvs []string, openOn []mpv1alpha1.NodeUse) string {
	var parts []string
	switch len(pvs) {
	case 0:
	case 1:
		parts = append(parts, "PersistentVolume "+pvs[0]+" uses it")
	default:
		parts = append(parts, "PersistentVolumes "+strings.Join(pvs, ", ")+" use it")
	}
	if len(openOn) > 0 {
		parts = append(parts, consumers.DescribeOpenOn(openOn))
	}
	if len(parts) == 0 {
		return "nothing uses it"
	}
	return strings.Join(parts, "; ")
}

// inUseMessage is the InUse condition's message: the volumes, the names a forced rename left
// them naming, and the nodes that hold the map open.
func inUseMessage(o lunOutcome) string {
	var b strings.Builder
	switch len(o.consumers) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "Used by PersistentVolume %s.", o.consumers[0])
	default:
		fmt.Fprintf(&b, "Used by PersistentVolumes %s.", strings.Join(o.consumers, ", "))
	}
	for _, pv := range sortedKeys(o.staleNames) {
		fmt.Fprintf(&b, " PersistentVolume %s still names /dev/mapper/%s, the LUN's name before a forced alias change.", pv, o.staleNames[pv])
	}
	if len(o.openOn) > 0 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "Open on %s: %s.", plural(len(o.openOn), "node", "nodes"), consumers.DescribeOpenOn(o.openOn))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// setWWIDConditions is the pure status setter of one MultipathWWID.
func setWWIDConditions(w *mpv1alpha1.MultipathWWID, o lunOutcome) {
	switch {
	case len(o.consumers) > 0:
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ConsumedReason, Message: inUseMessage(o)})
	case len(consumers.Disturbed(w, o.openOn)) > 0:
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.OpenOnNodeReason, Message: inUseMessage(o)})
	case len(o.openOn) > 0:
		// Open only under the host's own names, never this LUN's: nothing the operator would
		// remove or rename (consumers.Disturbed); Stalled says why it is not rendered.
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.NotConsumedReason,
			Message: "No PersistentVolume uses this LUN, and no node holds open a map the operator named for it: the maps open on nodes carry the host's own names (" + consumers.DescribeOpenOn(o.openOn) + ")."})
	default:
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.InUseCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.NotConsumedReason,
			Message: "No PersistentVolume uses this LUN and no node holds its map open."})
	}
	if o.conflict != nil {
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.ConflictCondition, Status: metav1.ConditionTrue, Reason: o.conflict.Reason, Message: o.conflict.Message})
	} else {
		conditions.Set(w, metav1.Condition{Type: mpv1alpha1.ConflictCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.NoConflictReason, Message: "The WWID and alias are claimed by this object only."})
	}
	var s conditions.Summary
	switch {
	case o.invalid != "":
		s.Stalled = &conditions.Message{Reason: mpv1alpha1.InvalidSpecReason, Message: "The spec is invalid and is not rendered: " + o.invalid}
	case o.conflict != nil:
		s.Stalled = &conditions.Message{Reason: o.conflict.Reason, Message: o.conflict.Message + " This LUN is left out of the rendered config until the conflict is resolved."}
	case len(o.adoptionHeldOn) > 0:
		s.Stalled = &conditions.Message{Reason: mpv1alpha1.OpenOnNodeReason, Message: adoptionHeldMessage(w, o)}
	case o.aliasRefused:
		s.Stalled = &conditions.Message{Reason: mpv1alpha1.AliasChangeRefusedReason, Message: fmt.Sprintf(
			"The alias change to %q is not rendered because the change would rename /dev/mapper/%s on every node, and %s; the nodes keep %q. Set the annotation %s=true to force it.",
			w.Spec.Alias, lun.MapName(w.Spec.WWID, o.renderedAlias), holders(o.harmed, o.openOn), o.renderedAlias, mpv1alpha1.ForceRemoveAnnotation)}
	case !w.DeletionTimestamp.IsZero():
		s.Stalled = &conditions.Message{Reason: inUseReason(o), Message: fmt.Sprintf(
			"Deletion waits until the LUN is no longer in use (%s), or the annotation %s=true is set.", holders(o.consumers, o.openOn), mpv1alpha1.ForceRemoveAnnotation)}
	case o.teardown:
		s.Stalled = &conditions.Message{Reason: mpv1alpha1.ConfigDeletingReason, Message: fmt.Sprintf(
			"MultipathConfig %s is being deleted and nothing uses this LUN: it is removed from the nodes.", mpv1alpha1.ClusterConfigName)}
	case o.rendered && noExpectedNodes(w):
		s.Stalled = &conditions.Message{Reason: mpv1alpha1.NoExpectedNodesReason, Message: fmt.Sprintf(
			"The LUN is in the rendered config, but no node is expected to carry it (nodes %s): no managed node matches its nodeSelector, or no node is managed.", w.Status.Health.Nodes)}
	case o.rendered:
		s.Ready = true
		s.ReadyMessage = conditions.Message{Reason: mpv1alpha1.RenderedReason, Message: "The LUN is in the rendered config."}
	default:
		s.Reconciling = &conditions.Message{Reason: mpv1alpha1.RolloutInProgressReason, Message: "The LUN is not rendered yet."}
	}
	conditions.SetSummary(w, s)
}

// adoptionHeldMessage says why the LUN is left out of the render: the nodes, the map's name
// there and what holds it, the name the render would give it, and the fix.
func adoptionHeldMessage(w *mpv1alpha1.MultipathWWID, o lunOutcome) string {
	fix := "Free the map on those nodes (unmount it, deactivate what is stacked on it, stop what holds it open) and the LUN is rendered"
	if hostName := o.adoptionHeldOn[0].Name; !slices.ContainsFunc(o.adoptionHeldOn, func(u mpv1alpha1.NodeUse) bool { return u.Name != hostName }) &&
		len(multipathconf.ValidateMultipathWWIDSpec(&mpv1alpha1.MultipathWWIDSpec{WWID: w.Spec.WWID, Alias: hostName}, nil)) == 0 {
		fix += fmt.Sprintf(", or set spec.alias to %q to keep the host's name", hostName)
	}
	return fmt.Sprintf("The LUN is not rendered: it would rename a map the host named and holds open, to /dev/mapper/%s (%s). The operator does not rename an open map it did not name. %s.",
		o.adoptionName, consumers.DescribeOpenOn(o.adoptionHeldOn), fix)
}

// inUseReason is Consumed when a volume uses the LUN, else OpenOnNode.
func inUseReason(o lunOutcome) string {
	if len(o.consumers) == 0 && len(o.openOn) > 0 {
		return mpv1alpha1.OpenOnNodeReason
	}
	return mpv1alpha1.ConsumedReason
}

func (r *Reconciler) emitWWIDEvents(w, before *mpv1alpha1.MultipathWWID, o lunOutcome) {
	was := func(t, reason string) bool {
		c := conditions.Get(before, t)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	}
	if o.conflict != nil && !was(mpv1alpha1.ConflictCondition, o.conflict.Reason) {
		r.Recorder.Eventf(w, nil, corev1.EventTypeWarning, o.conflict.Reason, "Render", "%s", o.conflict.Message)
	}
	if o.aliasRefused && !was(mpv1alpha1.StalledCondition, mpv1alpha1.AliasChangeRefusedReason) {
		r.Recorder.Eventf(w, nil, corev1.EventTypeWarning, mpv1alpha1.AliasChangeRefusedReason, "Render",
			"Alias change to %q refused: it would rename /dev/mapper/%s, and %s", w.Spec.Alias, lun.MapName(w.Spec.WWID, o.renderedAlias), holders(o.harmed, o.openOn))
	}
}

// writeConfig records the render on the MultipathConfig: status.renderedConfig,
// status.heldConfig and the Rendered condition for this generation. Ready, Reconciling and
// Stalled belong to the rollout controller.
func (r *Reconciler) writeConfig(ctx context.Context, cfg *mpv1alpha1.MultipathConfig, rendered, held *multipathconf.Rendered, out *decision) error {
	for attempt := 0; ; attempt++ {
		before := cfg.DeepCopy()
		events := setConfigStatus(cfg, rendered, held, out)
		if apiequality.Semantic.DeepEqual(before.Status, cfg.Status) {
			return nil
		}
		// Optimistic lock: the rollout controller writes other conditions of the same list, and
		// a merge patch replaces the whole list.
		err := r.Client.Status().Patch(ctx, cfg, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		switch {
		case err == nil:
			for _, e := range events {
				r.Recorder.Eventf(cfg, nil, corev1.EventTypeWarning, e.reason, e.action, "%s", e.note)
			}
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && r.APIReader != nil && attempt < 3:
			// Another controller wrote the status first: set this one's fields on what it wrote.
			fresh := &mpv1alpha1.MultipathConfig{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cfg), fresh); err != nil {
				return fmt.Errorf("failed to read MultipathConfig %s again: %w", klog.KObj(cfg), err)
			}
			if fresh.Generation != cfg.Generation {
				return err // a new spec: the next pass renders it
			}
			cfg = fresh
			continue
		}
		return fmt.Errorf("failed to update status of MultipathConfig %s: %w", klog.KObj(cfg), err)
	}
}

// configEvent is an Event setConfigStatus asks for, emitted once the status is written.
type configEvent struct{ reason, action, note string }

// setConfigStatus sets what the render says in cfg's status, and returns the Events its
// transitions call for.
func setConfigStatus(cfg *mpv1alpha1.MultipathConfig, rendered, held *multipathconf.Rendered, out *decision) []configEvent {
	var events []configEvent
	wasNotRendered := was(cfg, mpv1alpha1.RenderedCondition, metav1.ConditionFalse)
	if rendered != nil {
		if prev := cfg.Status.RenderedConfig; prev == nil || prev.Hash != rendered.Hash {
			// A new config is not rolled out yet: say so at once, so that kstatus readers (Argo
			// CD, Flux) never see the previous Ready=True beside the new config. The rollout
			// controller owns these conditions from here on.
			conditions.SetSummary(cfg, conditions.Summary{Reconciling: &conditions.Message{
				Reason:  mpv1alpha1.RolloutInProgressReason,
				Message: fmt.Sprintf("Rendered config %s is being rolled out.", rendered.ConfigMapName()),
			}})
			if out.forcedTeardown && len(out.forcedOut) > 0 {
				events = append(events, configEvent{mpv1alpha1.ForcedReason, "ForceTeardown", fmt.Sprintf(
					"Forced teardown (%s=true): in-use MultipathWWIDs %s are removed from every node", mpv1alpha1.ForceRemoveAnnotation, strings.Join(out.forcedOut, ", "))})
			}
		}
		cfg.Status.RenderedConfig = &mpv1alpha1.RenderedConfigStatus{
			RenderedConfigRef: mpv1alpha1.RenderedConfigRef{Name: rendered.ConfigMapName(), Hash: rendered.Hash},
			Bytes:             int64(rendered.Bytes),
			LUNs:              int32(rendered.LUNs),
		}
		cfg.Status.HeldConfig = nil
		if held != nil {
			cfg.Status.HeldConfig = &mpv1alpha1.RenderedConfigStatus{
				RenderedConfigRef: mpv1alpha1.RenderedConfigRef{Name: held.ConfigMapName(), Hash: held.Hash},
				Bytes:             int64(held.Bytes),
				LUNs:              int32(held.LUNs),
			}
		}
		msg := fmt.Sprintf("Rendered %d LUNs into ConfigMap %s.", rendered.LUNs, rendered.ConfigMapName())
		if out.deleting {
			msg = fmt.Sprintf("The MultipathConfig is being deleted: rendered the %d in-use LUNs it holds into ConfigMap %s.", rendered.LUNs, rendered.ConfigMapName())
		}
		conditions.Set(cfg, metav1.Condition{Type: mpv1alpha1.RenderedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.RenderedReason, Message: msg})
	} else {
		conditions.Set(cfg, metav1.Condition{Type: mpv1alpha1.RenderedCondition, Status: metav1.ConditionFalse, Reason: mpv1alpha1.InvalidSpecReason,
			Message: "The spec is not rendered, the nodes keep the last good config: " + out.configErr})
		if !wasNotRendered {
			events = append(events, configEvent{mpv1alpha1.InvalidSpecReason, "Render", "Not rendered: " + out.configErr})
		}
	}
	return events
}

func was(obj conditions.Getter, t string, s metav1.ConditionStatus) bool {
	c := conditions.Get(obj, t)
	return c != nil && c.Status == s
}
