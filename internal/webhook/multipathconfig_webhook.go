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

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// +kubebuilder:webhook:path=/validate-multipath-kube-multipath-io-v1alpha1-multipathconfig,mutating=false,failurePolicy=fail,sideEffects=None,groups=multipath.kube-multipath.io,resources=multipathconfigs,verbs=create;update,versions=v1alpha1,name=validate.multipathconfigs.multipath.kube-multipath.io,admissionReviewVersions=v1,timeoutSeconds=5,serviceName=kube-multipath-webhook,serviceNamespace=kube-multipath-system,patch=`{"matchConditions":[{"name":"spec-changed","expression":"request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec"}]}`

var configGroupKind = mpv1alpha1.SchemeGroupVersion.WithKind("MultipathConfig").GroupKind()

// MultipathConfigValidator admits the MultipathConfig with multipathconf.ValidateMultipathConfig:
// its name, typed defaults, node selector, rollout, and the overrides checker (line and rule),
// whose blacklist check runs against the WWID of every MultipathWWID; then refuses a knob or
// overrides construct the multipath-tools of a node it selects does not take (versions.go).
type MultipathConfigValidator struct {
	// Reader is the manager's cache.
	Reader client.Reader
}

var _ admission.Validator[*mpv1alpha1.MultipathConfig] = &MultipathConfigValidator{}

// ValidateCreate admits the singleton.
func (v *MultipathConfigValidator) ValidateCreate(ctx context.Context, c *mpv1alpha1.MultipathConfig) (admission.Warnings, error) {
	return v.validate(ctx, c, nil)
}

// ValidateUpdate admits a change of the spec; other updates are always admitted.
func (v *MultipathConfigValidator) ValidateUpdate(ctx context.Context, old, c *mpv1alpha1.MultipathConfig) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, c.Spec) {
		return nil, nil
	}
	return v.validate(ctx, c, old)
}

// ValidateDelete admits every deletion (the webhook is not registered for it).
func (v *MultipathConfigValidator) ValidateDelete(context.Context, *mpv1alpha1.MultipathConfig) (admission.Warnings, error) {
	return nil, nil
}

func (v *MultipathConfigValidator) validate(ctx context.Context, c, old *mpv1alpha1.MultipathConfig) (admission.Warnings, error) {
	var allowListed []string
	if c.Spec.Overrides != "" {
		// Every MultipathWWID counts, rendered or not (a loser of a conflict, one being
		// deleted): a stricter list than the render's, so that what is admitted renders.
		list := &mpv1alpha1.MultipathWWIDList{}
		if err := v.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("listing MultipathWWIDs: %w", err))
		}
		allowListed = make([]string, len(list.Items))
		for i := range list.Items {
			allowListed[i] = list.Items[i].Spec.WWID
		}
	}
	if errs := multipathconf.ValidateMultipathConfig(c, allowListed); len(errs) > 0 {
		return nil, apierrors.NewInvalid(configGroupKind, c.Name, errs)
	}
	if errs, err := configVersionErrors(ctx, v.Reader, c, old); err != nil {
		return nil, err
	} else if len(errs) > 0 {
		return nil, apierrors.NewInvalid(configGroupKind, c.Name, errs)
	}
	var warnings admission.Warnings
	if c.Spec.Rollout.Paused {
		warnings = append(warnings, "spec.rollout.paused is true: the change is rendered but not handed to any node until it is unpaused")
	}
	return warnings, nil
}
