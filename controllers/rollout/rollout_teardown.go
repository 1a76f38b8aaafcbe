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
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/rolloutplan"
)

const (
	// maxHeldListed bounds the LUNs, and the users of each, that the TeardownHeld message names.
	maxHeldListed = 5
)

// forceRequested reports whether the MultipathConfig carries the force-remove annotation.
func (s *scope) forceRequested() bool {
	return s.config != nil && s.config.Annotations[mpv1alpha1.ForceRemoveAnnotation] == "true"
}

// teardownConfig is the config a node being torn down is handed: status.heldConfig (only the
// LUNs still in use), else the empty config; the empty config when teardown is forced.
func (s *scope) teardownConfig() mpv1alpha1.RenderedConfigRef {
	if h := s.config.Status.HeldConfig; h != nil && !s.forceRequested() {
		return h.RenderedConfigRef
	}
	return emptyConfig()
}

// deletionTarget is what the selected nodes are rolled out while the MultipathConfig is being
// deleted: status.renderedConfig, which the render controller then renders with only the LUNs
// in use. A render without any LUN (or none at all) is handed out as the empty config: with no
// LUN to keep, the node's managed files are removed rather than kept for nothing.
func (s *scope) deletionTarget() mpv1alpha1.RenderedConfigRef {
	rc := s.config.Status.RenderedConfig
	if rc == nil || rc.LUNs == 0 || s.forceRequested() {
		return emptyConfig()
	}
	return rc.RenderedConfigRef
}

// noteHeld records the nodes of in that are torn down to a config other than the empty one.
func (s *scope) noteHeld(in rolloutplan.Input) {
	empty := emptyConfig()
	for _, n := range in.Nodes {
		ref := in.Target
		switch {
		case n.Teardown != nil:
			ref = *n.Teardown
		case !s.deleting:
			continue
		}
		if ref != empty {
			s.held = append(s.held, n.Name)
			s.heldRef = ref
		}
	}
	slices.Sort(s.held)
}

// reconcileFinalizer adds the teardown finalizer to a live MultipathConfig. On one being
// deleted, it lets the object go at once when teardown is forced, or when it never carried the
// finalizer; the pass then tears the nodes down as for a MultipathConfig that is gone.
func (r *Reconciler) reconcileFinalizer(ctx context.Context, s *scope) (ctrl.Result, error) {
	cfg := s.config
	if cfg == nil {
		return ctrl.Result{}, nil
	}
	has := controllerutil.ContainsFinalizer(cfg, mpv1alpha1.TeardownFinalizer)
	switch {
	case !s.deleting && !has:
		ctrl.LoggerFrom(ctx).Info("Adding the teardown finalizer")
		return r.patchFinalizer(ctx, s, true)
	case s.deleting && has && s.forceRequested():
		ctrl.LoggerFrom(ctx).Info("Teardown forced: removing the finalizer")
		res, err := r.patchFinalizer(ctx, s, false)
		if err != nil || res.RequeueAfter > 0 {
			return res, err
		}
		r.Recorder.Eventf(cfg, nil, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, "Teardown", "%s", conditions.Truncate(fmt.Sprintf(
			"Deletion forced by the annotation %s=true (set by %s): the finalizer is removed without waiting for the nodes; %s are torn down with the empty config, one at a time, in-use LUNs included.",
			mpv1alpha1.ForceRemoveAnnotation, r.forcedBy(ctx, cfg), plural(len(s.states), "node")), maxEventNote))
		s.forgetConfig()
	case s.deleting && !has:
		// Deleted without the finalizer (added by an older operator, or removed by hand).
		s.forgetConfig()
	}
	return ctrl.Result{}, nil
}

// forgetConfig makes the rest of the pass treat the MultipathConfig as gone.
func (s *scope) forgetConfig() {
	s.config, s.before, s.deleting = nil, nil, false
	s.selector, s.selectorErr, s.selected = nil, nil, nil
}

// patchFinalizer adds or removes the teardown finalizer, under the optimistic lock (a merge
// patch replaces the whole list, and others may add their own).
func (r *Reconciler) patchFinalizer(ctx context.Context, s *scope, add bool) (ctrl.Result, error) {
	cfg := s.config
	w := cfg.DeepCopy()
	if add {
		controllerutil.AddFinalizer(w, mpv1alpha1.TeardownFinalizer)
	} else {
		controllerutil.RemoveFinalizer(w, mpv1alpha1.TeardownFinalizer)
	}
	if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(cfg, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			s.forgetConfig()
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to update the finalizers of MultipathConfig %s: %w", klog.KObj(cfg), err)
	}
	// The status as read stays the reference of the status patch; only the version moves on.
	s.before.ResourceVersion = w.ResourceVersion
	s.config = w
	return ctrl.Result{}, nil
}

// releaseFinalizer removes the teardown finalizer of a MultipathConfig being deleted once no
// MultipathNodeState is left: every node applied the empty config (or was never configured).
func (r *Reconciler) releaseFinalizer(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.deleting || !controllerutil.ContainsFinalizer(s.config, mpv1alpha1.TeardownFinalizer) {
		return ctrl.Result{}, nil
	}
	for _, st := range s.states {
		if st.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, nil
		}
	}
	cfg := s.config
	ctrl.LoggerFrom(ctx).Info("Every node is torn down: removing the teardown finalizer")
	res, err := r.patchFinalizer(ctx, s, false)
	if err == nil && res.RequeueAfter == 0 {
		r.Recorder.Eventf(cfg, nil, corev1.EventTypeNormal, mpv1alpha1.TeardownCompleteReason, "Teardown",
			"Every node applied the empty config; MultipathConfig %s is deleted.", cfg.Name)
	}
	return res, err
}

// reconcileForceAnnotation records a forced teardown of deselected nodes with an Event, and
// removes the force-remove annotation from a live MultipathConfig whenever no node is being torn
// down: after the teardown it forced, or at once when there was nothing to force. It reads only
// the object, not what this process did: an annotation left behind (by a restart mid-teardown,
// or set ahead of time) would silently force the next deselection of in-use LUNs. The way to
// force is to annotate once a teardown is held, as TeardownHeld says.
func (r *Reconciler) reconcileForceAnnotation(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.config == nil || s.deleting {
		return ctrl.Result{}, nil
	}
	cfg := s.config
	if s.forced != "" {
		r.Recorder.Eventf(cfg, nil, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, "Teardown", "%s", conditions.Truncate(fmt.Sprintf(
			"Teardown forced by the annotation %s=true (set by %s): %s, in-use LUNs included.",
			mpv1alpha1.ForceRemoveAnnotation, r.forcedBy(ctx, cfg), s.forced), maxEventNote))
	}
	if !s.forceRequested() || s.plan == nil || s.plan.Status.Leaving > 0 {
		return ctrl.Result{}, nil
	}
	w := cfg.DeepCopy()
	delete(w.Annotations, mpv1alpha1.ForceRemoveAnnotation)
	ctrl.LoggerFrom(ctx).Info("Forced teardown over: removing the force-remove annotation")
	if err := r.Client.Patch(ctx, w, client.MergeFromWithOptions(cfg, client.MergeFromWithOptimisticLock{})); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return ctrl.Result{}, nil
		case apierrors.IsConflict(err):
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to remove the annotation %s from MultipathConfig %s: %w", mpv1alpha1.ForceRemoveAnnotation, klog.KObj(cfg), err)
	}
	s.config = w
	return ctrl.Result{}, nil
}

// forcedBy names the field manager that set the force-remove annotation, from managedFields:
// the closest to "who" the object itself records (the audit log has the user). The cache may
// strip managedFields; APIReader, when set, reads them from the API server.
func (r *Reconciler) forcedBy(ctx context.Context, cfg *mpv1alpha1.MultipathConfig) string {
	var obj client.Object = cfg
	if r.APIReader != nil && len(cfg.ManagedFields) == 0 {
		fresh := &mpv1alpha1.MultipathConfig{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cfg), fresh); err == nil {
			obj = fresh
		}
	}
	key := []byte(`"f:` + mpv1alpha1.ForceRemoveAnnotation + `"`)
	for _, mf := range obj.GetManagedFields() {
		if mf.FieldsV1 != nil && bytes.Contains(mf.FieldsV1.GetRawBytes(), key) {
			return "field manager " + mf.Manager
		}
	}
	return "an unknown field manager"
}

// heldMessage is the TeardownHeld message: the nodes kept on ref, and the in-use LUNs among
// wwids with what uses them.
func heldMessage(cfgName string, nodes []string, ref mpv1alpha1.RenderedConfigRef, wwids []mpv1alpha1.MultipathWWID) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Teardown of %s (%s) is held on config %s", plural(len(nodes), "node"), list(nodes), ref.Name)
	var luns []string
	inUse := 0
	for i := range wwids {
		w := &wwids[i]
		if !conditions.IsTrue(w, mpv1alpha1.InUseCondition) && len(w.Status.Consumers) == 0 && len(w.Status.OpenOn) == 0 {
			continue
		}
		inUse++
		if len(luns) < maxHeldListed {
			luns = append(luns, describeUse(w))
		}
	}
	switch {
	case inUse == 0:
		b.WriteString(", which still carries LUNs; no MultipathWWID reports being in use: waiting for the render controller to release them.")
	default:
		fmt.Fprintf(&b, ": %s in use: %s", plural(inUse, "LUN is", "LUNs are"), strings.Join(luns, "; "))
		if inUse > len(luns) {
			fmt.Fprintf(&b, "; and %d more", inUse-len(luns))
		}
		b.WriteString(". Each node is torn down once they are free.")
	}
	fmt.Fprintf(&b, " To tear down anyway, annotate MultipathConfig %s with %s=true.", cfgName, mpv1alpha1.ForceRemoveAnnotation)
	return b.String()
}

// describeUse says which LUN w is and what uses it.
func describeUse(w *mpv1alpha1.MultipathWWID) string {
	name := w.Name
	if w.Spec.Alias != "" {
		name += " (alias " + w.Spec.Alias + ")"
	}
	var uses []string
	if n := max(int(w.Status.ConsumerCount), len(w.Status.Consumers)); n > 0 {
		pvs := w.Status.Consumers[:min(len(w.Status.Consumers), maxHeldListed)]
		s := "PersistentVolume " + strings.Join(pvs, ", ")
		if n > len(pvs) {
			s += fmt.Sprintf(" and %d more", n-len(pvs))
		}
		uses = append(uses, s)
	}
	for i, u := range w.Status.OpenOn {
		if i == maxHeldListed {
			uses = append(uses, fmt.Sprintf("open on %d more nodes", len(w.Status.OpenOn)-i))
			break
		}
		var users []string
		for _, x := range u.Users {
			users = append(users, strings.TrimSpace(string(x.Kind)+" "+x.Name))
		}
		s := "open on " + u.Node
		if len(users) > 0 {
			s += " (" + strings.Join(users, ", ") + ")"
		}
		uses = append(uses, s)
	}
	if len(uses) == 0 {
		if c := conditions.Get(w, mpv1alpha1.InUseCondition); c != nil && c.Message != "" {
			uses = append(uses, strings.TrimSuffix(c.Message, "."))
		}
	}
	if len(uses) == 0 {
		return "LUN " + name
	}
	return "LUN " + name + ", " + strings.Join(uses, ", ")
}

// plural is "1 node" or "N nodes"; with a second form, "LUN is"/"LUNs are".
func plural(n int, forms ...string) string {
	one, many := forms[0], forms[0]+"s"
	if len(forms) > 1 {
		many = forms[1]
	}
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// list names at most maxHeldListed names.
func list(names []string) string {
	if len(names) <= maxHeldListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxHeldListed], ", "), len(names)-maxHeldListed)
}
