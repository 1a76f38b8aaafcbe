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
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/index"
	"github.com/kube-multipath/kube-multipath/internal/lun"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// The create/update webhook fails closed, and the API server skips it for updates that leave
// the spec alone (finalizers, labels, annotations, status), so the controllers' metadata writes
// never depend on it. The delete webhook fails open: the in-use finalizer protects a consumed
// LUN when the webhook is down (see doc.go). Both record an Event when they admit a forced
// change of an in-use LUN, except on a dry run: sideEffects NoneOnDryRun.
//
// +kubebuilder:webhook:path=/validate-multipath-kube-multipath-io-v1alpha1-multipathwwid,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=multipath.kube-multipath.io,resources=multipathwwids,verbs=create;update,versions=v1alpha1,name=validate.multipathwwids.multipath.kube-multipath.io,admissionReviewVersions=v1,timeoutSeconds=5,serviceName=kube-multipath-webhook,serviceNamespace=kube-multipath-system,patch=`{"matchConditions":[{"name":"spec-changed","expression":"request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec"}]}`
// +kubebuilder:webhook:path=/validate-multipath-kube-multipath-io-v1alpha1-multipathwwid,mutating=false,failurePolicy=ignore,sideEffects=NoneOnDryRun,groups=multipath.kube-multipath.io,resources=multipathwwids,verbs=delete,versions=v1alpha1,name=validate-delete.multipathwwids.multipath.kube-multipath.io,admissionReviewVersions=v1,timeoutSeconds=5,serviceName=kube-multipath-webhook,serviceNamespace=kube-multipath-system

// maxNamed is how many PersistentVolumes a message names before "and N more".
const maxNamed = 10

var (
	specPath      = field.NewPath("spec")
	wwidGroupKind = mpv1alpha1.SchemeGroupVersion.WithKind("MultipathWWID").GroupKind()
	wwidResource  = mpv1alpha1.SchemeGroupVersion.WithResource("multipathwwids").GroupResource()
)

// MultipathWWIDValidator admits MultipathWWIDs: the object's own rules
// (multipathconf.ValidateMultipathWWID), names no other object claims
// (multipathconf.ResolveConflicts), no blacklist in the MultipathConfig that would then refuse
// the whole render, no knob a managed node's multipath-tools does not take (versions.go), and
// no rename or deletion of an in-use LUN (a PersistentVolume uses it, or a node holds its map
// open) unless forced.
type MultipathWWIDValidator struct {
	// Reader is the manager's cache, with the index.WWIDNames and index.PVConsumers indexes.
	Reader client.Reader
	// Recorder records who forced a change of an in-use LUN; nil records nothing.
	Recorder events.EventRecorder
}

var _ admission.Validator[*mpv1alpha1.MultipathWWID] = &MultipathWWIDValidator{}

// ValidateCreate admits a new LUN.
func (v *MultipathWWIDValidator) ValidateCreate(ctx context.Context, w *mpv1alpha1.MultipathWWID) (admission.Warnings, error) {
	if errs := multipathconf.ValidateMultipathWWID(w); len(errs) > 0 {
		return nil, apierrors.NewInvalid(wwidGroupKind, w.Name, errs)
	}
	errs, err := v.conflicts(ctx, w)
	if err != nil {
		return nil, err
	}
	blacklisted, err := v.blacklisted(ctx, w)
	if err != nil {
		return nil, err
	}
	versions, err := wwidVersionErrors(ctx, v.Reader, w, nil)
	if err != nil {
		return nil, err
	}
	if errs = append(append(errs, blacklisted...), versions...); len(errs) > 0 {
		return nil, apierrors.NewInvalid(wwidGroupKind, w.Name, errs)
	}
	var warnings admission.Warnings
	if lun.Forced(w) {
		warnings = append(warnings, fmt.Sprintf("MultipathWWID %s carries %s=true: deleting it, or changing its alias, will not be refused while PersistentVolumes use the LUN",
			w.Name, mpv1alpha1.ForceRemoveAnnotation))
	}
	return warnings, nil
}

// ValidateUpdate admits a change. An update that leaves the spec alone is always admitted (the
// API server does not even call for it), so that finalizers can be removed from an object
// that was admitted under older rules.
func (v *MultipathWWIDValidator) ValidateUpdate(ctx context.Context, old, w *mpv1alpha1.MultipathWWID) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, w.Spec) {
		return nil, nil
	}
	if errs := multipathconf.ValidateMultipathWWIDUpdate(w, old); len(errs) > 0 {
		return nil, apierrors.NewInvalid(wwidGroupKind, w.Name, errs)
	}
	var errs field.ErrorList
	if !slices.Equal(lun.Names(old), lun.Names(w)) {
		var err error
		if errs, err = v.conflicts(ctx, w); err != nil {
			return nil, err
		}
	}
	versions, err := wwidVersionErrors(ctx, v.Reader, w, old)
	if err != nil {
		return nil, err
	}
	errs = append(errs, versions...)
	var warnings admission.Warnings
	// The map is renamed on the nodes when the alias differs from the one they have now. The
	// rename breaks what uses the map by that name or by its WWID, and what holds it open on a
	// node; not a volume that names only the new alias (renaming back after a forced change).
	if nodeAlias := lun.CurrentAlias(old); w.Spec.Alias != old.Spec.Alias && w.Spec.Alias != nodeAlias {
		u, err := v.users(ctx, old)
		if err != nil {
			return nil, err
		}
		from, to := lun.MapName(old.Spec.WWID, nodeAlias), lun.MapName(w.Spec.WWID, w.Spec.Alias)
		open := consumers.Disturbed(old, old.Status.OpenOn)
		switch {
		case len(u.harmed) == 0 && len(open) == 0:
		case lun.Forced(w):
			what := usedBy(u.harmed, open)
			warnings = append(warnings, fmt.Sprintf("the LUN is %s: changing the alias renames /dev/mapper/%s to /dev/mapper/%s on every node (%s=true)",
				what, from, to, mpv1alpha1.ForceRemoveAnnotation))
			v.recordForced(ctx, w, "ForceRename", "%s forced the alias change of in-use MultipathWWID %s (%s=true): /dev/mapper/%s becomes /dev/mapper/%s on every node while the LUN is %s",
				from, to, what)
		default:
			errs = append(errs, field.Forbidden(specPath.Child("alias"), fmt.Sprintf(
				"the LUN is %s: changing the alias would rename /dev/mapper/%s on every node. Stop using the LUN first, or set the annotation %s=true to force the change",
				usedBy(u.harmed, open), from, mpv1alpha1.ForceRemoveAnnotation)))
		}
	}
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(wwidGroupKind, w.Name, errs)
	}
	return warnings, nil
}

// ValidateDelete refuses to delete an in-use LUN (a PersistentVolume uses it by any of its
// names, or a node holds its map open), unless forced.
func (v *MultipathWWIDValidator) ValidateDelete(ctx context.Context, w *mpv1alpha1.MultipathWWID) (admission.Warnings, error) {
	u, err := v.users(ctx, w)
	open := consumers.Disturbed(w, w.Status.OpenOn)
	if err != nil || len(u.all) == 0 && len(open) == 0 {
		return nil, err
	}
	name := lun.MapName(w.Spec.WWID, lun.CurrentAlias(w))
	what := usedBy(u.all, open) + staleNote(u.stale)
	if lun.Forced(w) {
		v.recordForced(ctx, w, "ForceDelete", "%s forced the deletion of in-use MultipathWWID %s (%s=true): /dev/mapper/%s is removed from every node while the LUN is %s", name, what)
		return admission.Warnings{fmt.Sprintf("the LUN is %s: deleting MultipathWWID %s removes /dev/mapper/%s from every node (%s=true)",
			what, w.Name, name, mpv1alpha1.ForceRemoveAnnotation)}, nil
	}
	return nil, apierrors.NewForbidden(wwidResource, w.Name, fmt.Errorf(
		"the LUN is %s: deleting it would remove /dev/mapper/%s from every node. Stop using the LUN first, or set the annotation %s=true to force the deletion",
		what, name, mpv1alpha1.ForceRemoveAnnotation))
}

// recordForced records, on w, that the requesting user forced a change of an in-use LUN. The
// format's verbs after the first two (user, object name, annotation) are args. Nothing is
// recorded on a dry run (the webhooks' sideEffects are NoneOnDryRun) or without a recorder.
// Admission sees the request, not its outcome: a later admission step may still refuse it, so
// the render controller records the change again once it is rendered.
func (v *MultipathWWIDValidator) recordForced(ctx context.Context, w *mpv1alpha1.MultipathWWID, action, format string, args ...any) {
	req, err := admission.RequestFromContext(ctx)
	if v.Recorder == nil || err != nil || req.DryRun != nil && *req.DryRun {
		return
	}
	user := req.UserInfo.Username
	if user == "" {
		user = "an unnamed user"
	}
	v.Recorder.Eventf(w, nil, corev1.EventTypeWarning, mpv1alpha1.ForcedReason, action, format,
		append([]any{user, w.Name, mpv1alpha1.ForceRemoveAnnotation}, args...)...)
}

// usedBy says what uses a LUN: "used by PersistentVolume a", "open on node n (/dev/mapper/x is
// mounted at /m on node n)", or both.
func usedBy(pvs []string, openOn []mpv1alpha1.NodeUse) string {
	var parts []string
	if len(pvs) > 0 {
		parts = append(parts, "used by "+namePVs(pvs))
	}
	if len(openOn) > 0 {
		where := "a node"
		if len(openOn) > 1 {
			where = strconv.Itoa(len(openOn)) + " nodes"
		}
		parts = append(parts, "open on "+where+" ("+consumers.DescribeOpenOn(openOn)+")")
	}
	return strings.Join(parts, " and ")
}

// staleNote names the volumes that still name a former alias, with that name.
func staleNote(stale map[string]string) string {
	var b strings.Builder
	for _, pv := range sortedKeys(stale) {
		fmt.Fprintf(&b, " (PersistentVolume %s still names /dev/mapper/%s, its name before a forced alias change)", pv, stale[pv])
	}
	return b.String()
}

// conflicts refuses a WWID or alias (ignoring case) that another MultipathWWID claims as its
// WWID, alias or rendered alias. Each candidate is settled against w alone by ResolveConflicts,
// w counting as the newest: a name an existing object holds is never taken from it, even from
// an object that itself loses the render to a third one (it may win once that one is gone).
func (v *MultipathWWIDValidator) conflicts(ctx context.Context, w *mpv1alpha1.MultipathWWID) (field.ErrorList, error) {
	others := map[string]*mpv1alpha1.MultipathWWID{}
	for _, key := range lun.Names(w) {
		list := &mpv1alpha1.MultipathWWIDList{}
		if err := v.Reader.List(ctx, list, client.MatchingFields{index.WWIDNames: index.Bucket(key)}); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("listing MultipathWWIDs by name: %w", err))
		}
		for i := range list.Items {
			// The bucket's other objects claim other names.
			if o := &list.Items[i]; o.Name != w.Name && slices.Contains(lun.Names(o), key) {
				others[o.Name] = o
			}
		}
	}
	newest := w.DeepCopy()
	newest.CreationTimestamp = metav1.Time{}
	var errs field.ErrorList
	for _, name := range sortedKeys(others) {
		o := others[name]
		claims := []mpv1alpha1.MultipathWWID{*o}
		if a := o.Status.RenderedAlias; a != nil && *a != o.Spec.Alias {
			// The nodes still use the rendered alias (a refused rename): it stays claimed.
			rendered := o.DeepCopy()
			rendered.Spec.Alias = *a
			claims = append(claims, *rendered)
		}
		formerFrom := len(claims)
		for _, a := range o.Status.FormerAliases {
			// A volume still names this LUN by it: given to another LUN, it would open that one.
			former := o.DeepCopy()
			former.Spec.Alias = a
			claims = append(claims, *former)
		}
		for n, claim := range claims {
			c, lost := multipathconf.ResolveConflicts([]mpv1alpha1.MultipathWWID{claim, *newest}).Conflicts[w.Name]
			if !lost {
				continue
			}
			msg := withoutPrecedence(c)
			if n >= formerFrom {
				msg = fmt.Sprintf("alias %q is a former alias of MultipathWWID %q that a PersistentVolume still names (/dev/mapper/%s)", w.Spec.Alias, o.Name, claim.Spec.Alias)
			}
			if !o.DeletionTimestamp.IsZero() {
				msg += ", which is being deleted and holds its names until it is gone"
			}
			if collides(claim.Spec.WWID, claim.Spec.Alias, w.Spec.WWID) {
				errs = append(errs, field.Invalid(specPath.Child("wwid"), w.Spec.WWID, msg))
			} else {
				errs = append(errs, field.Invalid(specPath.Child("alias"), w.Spec.Alias, msg+": choose another alias"))
			}
			break
		}
	}
	return errs, nil
}

// withoutPrecedence cuts a conflict message after the winner's name: ResolveConflicts says why
// the winner won by age, but at admission the object under review yields whatever its age.
func withoutPrecedence(c multipathconf.Conflict) string {
	winner := "MultipathWWID " + strconv.Quote(c.Winner)
	if i := strings.Index(c.Message, winner); i >= 0 {
		return c.Message[:i+len(winner)]
	}
	return c.Message
}

// collides reports whether name equals, ignoring case, one of the names another object claims.
func collides(otherWWID, otherAlias, name string) bool {
	return strings.EqualFold(otherWWID, name) || otherAlias != "" && strings.EqualFold(otherAlias, name)
}

// blacklisted refuses a WWID that a blacklist of the MultipathConfig matches: the render would
// refuse the whole config for it. Only the errors allow-listing w adds are reported.
func (v *MultipathWWIDValidator) blacklisted(ctx context.Context, w *mpv1alpha1.MultipathWWID) (field.ErrorList, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, apierrors.NewInternalError(fmt.Errorf("reading MultipathConfig %s: %w", mpv1alpha1.ClusterConfigName, err))
	}
	if cfg.Spec.Overrides == "" {
		return nil, nil
	}
	before := map[string]bool{}
	for _, e := range multipathconf.ValidateMultipathConfig(cfg, nil) {
		before[e.Error()] = true
	}
	var errs field.ErrorList
	for _, e := range multipathconf.ValidateMultipathConfig(cfg, []string{w.Spec.WWID}) {
		if !before[e.Error()] {
			errs = append(errs, field.Invalid(specPath.Child("wwid"), w.Spec.WWID,
				"MultipathConfig "+strconv.Quote(cfg.Name)+" "+e.Field+" "+e.Detail))
		}
	}
	return errs, nil
}

// pvUsers are the PersistentVolumes that use a LUN.
type pvUsers struct {
	// all use it by any of its names.
	all []string
	// harmed use it by its WWID or the name the nodes have now: a rename breaks them.
	harmed []string
	// stale name only a former alias (status.formerAliases), mapped to that alias.
	stale map[string]string
}

// users lists the PersistentVolumes that use w's LUN under its WWID, its alias, the alias the
// nodes have now, or a former alias, as the render controller matches them.
func (v *MultipathWWIDValidator) users(ctx context.Context, w *mpv1alpha1.MultipathWWID) (pvUsers, error) {
	idx := consumers.NewIndex(lun.Aliases(w))
	var u pvUsers
	for _, key := range lun.Names(w) {
		pvs := &corev1.PersistentVolumeList{}
		if err := v.Reader.List(ctx, pvs, client.MatchingFields{index.PVConsumers: index.Bucket(key)}); err != nil {
			return u, apierrors.NewInternalError(fmt.Errorf("listing PersistentVolumes by WWID: %w", err))
		}
		for i := range pvs.Items {
			p := &pvs.Items[i]
			// The bucket's other volumes name other LUNs (idx.WWIDsOf drops them too).
			if !slices.Contains(consumers.Refs(p), key) || len(idx.WWIDsOf(p)) == 0 || slices.Contains(u.all, p.Name) {
				continue
			}
			u.all = append(u.all, p.Name)
			if harmed, a := lun.RenameHarms(w, consumers.Refs(p)); harmed {
				u.harmed = append(u.harmed, p.Name)
			} else if a != "" {
				if u.stale == nil {
					u.stale = map[string]string{}
				}
				u.stale[p.Name] = a
			}
		}
	}
	slices.Sort(u.all)
	slices.Sort(u.harmed)
	return u, nil
}

// namePVs reads "PersistentVolume a" or "PersistentVolumes a, b and c", at most maxNamed named.
func namePVs(names []string) string {
	if len(names) == 1 {
		return "PersistentVolume " + names[0]
	}
	shown := names
	if len(shown) > maxNamed {
		shown = shown[:maxNamed]
	}
	s := "PersistentVolumes " + strings.Join(shown[:len(shown)-1], ", ")
	if rest := len(names) - len(shown); rest > 0 {
		return s + ", " + shown[len(shown)-1] + " and " + strconv.Itoa(rest) + " more"
	}
	return s + " and " + shown[len(shown)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
