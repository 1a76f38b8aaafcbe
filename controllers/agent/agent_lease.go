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
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
)

// renewLease renews the Lease once per refresh interval, while multipathd's maps could be read:
// a renewed Lease says "this node's report is fresh". leaseDurationSeconds is
// health.StaleAfter refresh intervals. The Lease is owned by the MultipathNodeState, so it goes
// when the node is torn down. One server-side apply, no read. Its annotations confirm the
// config the host runs (health.LeaseApplied).
func (r *Reconciler) renewLease(ctx context.Context, s *scope) error {
	if s.maps == nil {
		return nil
	}
	now := r.Clock.Now()
	if !r.lastRenew.IsZero() && now.Sub(r.lastRenew) < r.RefreshInterval*9/10 && r.confirmed == confirmationOf(s) {
		return nil
	}
	return r.writeLease(ctx, s, now, true)
}

// confirmation is what the Lease says about the apply: the config the host runs, and the hash
// of the desired config while applying it fails.
type confirmation struct {
	applied    mpv1alpha1.RenderedConfigRef
	failedHash string
}

func confirmationOf(s *scope) confirmation {
	c := confirmation{applied: ptrValue(s.applied)}
	if d := s.state.Spec.DesiredConfig; s.applyErr != nil && d != nil {
		c.failedHash = d.Hash
	}
	return c
}

// confirmApplied writes the Lease at once when it would say something else about the apply
// (another config applied, or a failure): the rollout counts the node as updated, or failed,
// from it, without waiting for the map report that the status write carries. It is a phase,
// run right after the apply.
func (r *Reconciler) confirmApplied(ctx context.Context, s *scope) (result, error) {
	if c := confirmationOf(s); c == r.confirmed || c == (confirmation{}) {
		return result{}, nil
	}
	return result{}, r.writeLease(ctx, s, r.Clock.Now(), false)
}

// writeLease writes the Lease. fresh renews it (multipathd's maps were read this pass);
// otherwise it keeps the last renewal, or has none yet, so that a confirmation never makes a
// stale report look fresh.
func (r *Reconciler) writeLease(ctx context.Context, s *scope, now time.Time, fresh bool) error {
	st := s.state
	duration := int32(max(1, (health.StaleAfter * r.RefreshInterval).Round(1e9).Seconds()))
	lease := leaseApply{
		APIVersion: coordinationv1.SchemeGroupVersion.String(),
		Kind:       "Lease",
		Metadata: leaseApplyMeta{
			Name:      health.LeaseName(r.NodeName),
			Namespace: r.Namespace,
			Labels:    map[string]string{"app.kubernetes.io/name": "kube-multipath", "app.kubernetes.io/component": "agent"},
			OwnerReferences: []leaseOwner{{
				APIVersion: mpv1alpha1.GroupVersion.String(),
				Kind:       "MultipathNodeState",
				Name:       st.Name,
				UID:        st.UID,
			}},
		},
		Spec: leaseApplySpec{HolderIdentity: r.NodeName, LeaseDurationSeconds: duration},
	}
	renewed := r.lastRenew
	if fresh {
		renewed = now
	}
	if !renewed.IsZero() {
		lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(renewed))
	}
	c := confirmationOf(s)
	annotations := map[string]string{}
	if s.applied != nil {
		annotations[health.AppliedConfigAnnotation] = s.applied.Name
		annotations[health.AppliedHashAnnotation] = s.applied.Hash
	}
	if c.failedHash != "" {
		annotations[health.FailedHashAnnotation] = c.failedHash
	}
	if len(annotations) > 0 {
		lease.Metadata.Annotations = annotations
	}
	body, err := json.Marshal(lease)
	if err != nil {
		return err
	}
	if err := r.Kube.ApplyLease(ctx, r.Namespace, lease.Metadata.Name, body, FieldOwner); err != nil {
		return fmt.Errorf("failed to renew Lease %s/%s: %w", r.Namespace, health.LeaseName(r.NodeName), err)
	}
	r.lastRenew = renewed
	r.confirmed = c
	return nil
}

// leaseApply is the apply configuration of the agent's Lease: the fields the agent owns, and
// nothing else. A field left out (no renewal yet, no annotation) is one the agent gives up, so
// the API server removes it, as client-go's apply configurations do (whose package links the
// scheme of every built-in kind: internal/kubeclient).
type leaseApply struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   leaseApplyMeta `json:"metadata"`
	Spec       leaseApplySpec `json:"spec"`
}

type leaseApplyMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	OwnerReferences []leaseOwner      `json:"ownerReferences,omitempty"`
}

type leaseOwner struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid"`
}

type leaseApplySpec struct {
	HolderIdentity       string            `json:"holderIdentity"`
	LeaseDurationSeconds int32             `json:"leaseDurationSeconds"`
	RenewTime            *metav1.MicroTime `json:"renewTime,omitempty"`
}

// ptrValue is *ref, or the zero ref for nil.
func ptrValue(ref *mpv1alpha1.RenderedConfigRef) mpv1alpha1.RenderedConfigRef {
	if ref == nil {
		return mpv1alpha1.RenderedConfigRef{}
	}
	return *ref
}
