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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// The create/update webhook fails closed, and the API server skips it for updates that leave
// the spec alone (finalizers, labels, annotations, status), so the controllers' metadata writes
// never depend on it. The delete webhook fails open: the in-use finalizer protects a consumed
// LUN when the webhook is down (see doc.go).
//
// +kubebuilder:webhook:path=/validate-multipath-kube-multipath-io-v1alpha1-multipathwwid,mutating=false,failurePolicy=fail,sideEffects=None,groups=multipath.kube-multipath.io,resources=multipathwwids,verbs=create;update,versions=v1alpha1,name=validate.multipathwwids.multipath.kube-multipath.io,admissionReviewVersions=v1,timeoutSeconds=5,serviceName=kube-multipath-webhook,serviceNamespace=kube-multipath-system,patch=`{"matchConditions":[{"name":"spec-changed","expression":"request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec"}]}`
// +kubebuilder:webhook:path=/validate-multipath-kube-multipath-io-v1alpha1-multipathwwid,mutating=false,failurePolicy=ignore,sideEffects=None,groups=multipath.kube-multipath.io,resources=multipathwwids,verbs=delete,versions=v1alpha1,name=validate-delete.multipathwwids.multipath.kube-multipath.io,admissionReviewVersions=v1,timeoutSeconds=5,serviceName=kube-multipath-webhook,serviceNamespace=kube-multipath-system

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
// the whole render, no knob a managed node's multipath-tools does not take (versions.go), and no rename or deletion of a LUN a PersistentVolume uses unless forced.
type MultipathWWIDValidator struct {
	// Reader is the manager's cache, with the WWIDNamesIndex and render.PVConsumersIndex indexes.
	Reader client.Reader
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
	if forced(w) {
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
	if !slices.Equal(claimedNames(old), claimedNames(w)) {
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
	// The map is renamed on the nodes when the alias differs from the one they have now.
	if nodeAlias := renderedAlias(old); w.Spec.Alias != old.Spec.Alias && w.Spec.Alias != nodeAlias {
		pvs, err := v.consumers(ctx, old)
		if err != nil {
			return nil, err
		}
		switch {
		case len(pvs) == 0:
		case forced(w):
			warnings = append(warnings, fmt.Sprintf("the LUN is used by %s: changing the alias renames /dev/mapper/%s to /dev/mapper/%s on every node (%s=true)",
				namePVs(pvs), mapName(old.Spec.WWID, nodeAlias), mapName(w.Spec.WWID, w.Spec.Alias), mpv1alpha1.ForceRemoveAnnotation))
		default:
			errs = append(errs, field.Forbidden(specPath.Child("alias"), fmt.Sprintf(
				"the LUN is used by %s: changing the alias would rename /dev/mapper/%s on every node. Stop using the LUN first, or set the annotation %s=true to force the change",
				namePVs(pvs), mapName(old.Spec.WWID, nodeAlias), mpv1alpha1.ForceRemoveAnnotation)))
		}
	}
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(wwidGroupKind, w.Name, errs)
	}
	return warnings, nil
}

// ValidateDelete refuses to delete a LUN a PersistentVolume uses, unless forced.
func (v *MultipathWWIDValidator) ValidateDelete(ctx context.Context, w *mpv1alpha1.MultipathWWID) (admission.Warnings, error) {
	pvs, err := v.consumers(ctx, w)
	if err != nil || len(pvs) == 0 {
		return nil, err
	}
	name := mapName(w.Spec.WWID, renderedAlias(w))
	if forced(w) {
		return admission.Warnings{fmt.Sprintf("the LUN is used by %s: deleting MultipathWWID %s removes /dev/mapper/%s from every node (%s=true)",
			namePVs(pvs), w.Name, name, mpv1alpha1.ForceRemoveAnnotation)}, nil
	}
	return nil, apierrors.NewForbidden(wwidResource, w.Name, fmt.Errorf(
		"the LUN is used by %s: deleting it would remove /dev/mapper/%s from every node. Stop using the LUN first, or set the annotation %s=true to force the deletion",
		namePVs(pvs), name, mpv1alpha1.ForceRemoveAnnotation))
}

// conflicts refuses a WWID or alias (ignoring case) that another MultipathWWID claims as its
// WWID, alias or rendered alias. Each candidate is settled against w alone by ResolveConflicts,
// w counting as the newest: a name an existing object holds is never taken from it, even from
// an object that itself loses the render to a third one (it may win once that one is gone).
func (v *MultipathWWIDValidator) conflicts(ctx context.Context, w *mpv1alpha1.MultipathWWID) (field.ErrorList, error) {
	others := map[string]*mpv1alpha1.MultipathWWID{}
	for _, key := range claimedNames(w) {
		list := &mpv1alpha1.MultipathWWIDList{}
		if err := v.Reader.List(ctx, list, client.MatchingFields{WWIDNamesIndex: key}); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("listing MultipathWWIDs by name: %w", err))
		}
		for i := range list.Items {
			if o := &list.Items[i]; o.Name != w.Name {
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
		for _, claim := range claims {
			c, lost := multipathconf.ResolveConflicts([]mpv1alpha1.MultipathWWID{claim, *newest}).Conflicts[w.Name]
			if !lost {
				continue
			}
			msg := withoutPrecedence(c)
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

// consumers lists the PersistentVolumes that use w's LUN under its WWID, its alias, or the
// alias the nodes have now, as the render controller matches them.
func (v *MultipathWWIDValidator) consumers(ctx context.Context, w *mpv1alpha1.MultipathWWID) ([]string, error) {
	luns := []consumers.LUN{{WWID: w.Spec.WWID, Alias: w.Spec.Alias}}
	if a := renderedAlias(w); a != w.Spec.Alias {
		luns = append(luns, consumers.LUN{WWID: w.Spec.WWID, Alias: a})
	}
	idx := consumers.NewIndex(luns)
	var names []string
	for _, key := range claimedNames(w) {
		pvs := &corev1.PersistentVolumeList{}
		if err := v.Reader.List(ctx, pvs, client.MatchingFields{render.PVConsumersIndex: key}); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("listing PersistentVolumes by WWID: %w", err))
		}
		for i := range pvs.Items {
			if len(idx.WWIDsOf(&pvs.Items[i])) > 0 {
				names = append(names, pvs.Items[i].Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// renderedAlias is the alias the nodes have now: status.renderedAlias once rendered, else the spec's.
func renderedAlias(w *mpv1alpha1.MultipathWWID) string {
	if w.Status.RenderedAlias != nil {
		return *w.Status.RenderedAlias
	}
	return w.Spec.Alias
}

// mapName is the device-mapper name of a map: its alias, else its WWID.
func mapName(wwid, alias string) string {
	if alias != "" {
		return alias
	}
	return wwid
}

func forced(w *mpv1alpha1.MultipathWWID) bool {
	return w.Annotations[mpv1alpha1.ForceRemoveAnnotation] == "true"
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
