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

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	agentctrl "github.com/kube-multipath/kube-multipath/controllers/agent"
	"github.com/kube-multipath/kube-multipath/internal/fanout"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/wave"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// addReportingNodes brings the cluster to n nodes for the manager's memory figure with nodes
// that run no agent: each is a Ready Node, the MultipathNodeState status its agent would write
// (the handed-out config applied, its host group's maps with every path), and its agent's
// Lease, renewed every refresh interval until ctx ends. What the manager caches and rolls up
// is the same as with agents; what 1,000 agents in one process cost this 2-CPU machine (their
// heartbeats fall behind, and the health of every LUN with them) is left out.
func (h *harness) addReportingNodes(ctx context.Context, n int) error {
	from := len(h.nodes) + len(h.reporting)
	if n <= from {
		return nil
	}
	h.p.logf("Adding nodes %d..%d that report without an agent (for the manager's memory)", from, n-1)
	names := make([]string, 0, n-from)
	for k := from; k < n; k++ {
		names = append(names, fmt.Sprintf("node-%04d", k))
	}
	if errs := fanout.Each(ctx, len(names), func(ctx context.Context, i int) error {
		return sim.CreateNode(ctx, h.c, names[i], map[string]string{hostGroupLabel: hostGroup((from + i) % h.cfg.HostGroups)})
	}); len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The rollout controller creates each MultipathNodeState and hands it the config (by the
	// rollout wave, or its spec).
	deadline := time.Now().Add(10 * time.Minute)
	for i := 0; i < len(names); {
		st := &mpv1alpha1.MultipathNodeState{}
		err := h.c.Get(ctx, client.ObjectKey{Name: names[i]}, st)
		var desired *mpv1alpha1.RenderedConfigRef
		if err == nil {
			var w *wave.Wave
			if w, err = sim.ReadWave(ctx, h.c, sim.Namespace); err == nil {
				desired = wave.Effective(w, st)
			}
		}
		switch {
		case err == nil && desired != nil:
			if err := h.report(ctx, st, desired, from+i); err != nil {
				return err
			}
			i++
			continue
		case err != nil && !apierrors.IsNotFound(err):
			return err
		case time.Now().After(deadline):
			return fmt.Errorf("MultipathNodeState %s was not handed a config within 10 minutes", names[i])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	h.reporting = append(h.reporting, names...)
	if err := h.renewLeases(ctx, names); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(h.cfg.Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = h.renewLeases(ctx, names)
			}
		}
	}()
	return nil
}

// report writes st's status as node k's agent would, with its field owner.
func (h *harness) report(ctx context.Context, st *mpv1alpha1.MultipathNodeState, desired *mpv1alpha1.RenderedConfigRef, k int) error {
	maps, err := sim.ReportedMaps(h.groupMaps(k % h.cfg.HostGroups))
	if err != nil {
		return err
	}
	status := mpv1alpha1.MultipathNodeStateStatus{
		ObservedGeneration:    st.Generation,
		AppliedConfig:         desired.DeepCopy(),
		MultipathToolsVersion: "0.9.4",
		MapCount:              int32(len(maps)),
		Maps:                  maps,
		Conditions: []metav1.Condition{{Type: mpv1alpha1.ReadyCondition, Status: metav1.ConditionTrue, ObservedGeneration: st.Generation,
			LastTransitionTime: metav1.Now(), Reason: mpv1alpha1.AppliedReason, Message: "The node runs config " + desired.Name + "."}},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": mpv1alpha1.GroupVersion.String(), "kind": "MultipathNodeState",
		"metadata": map[string]any{"name": st.Name}, "status": obj,
	}}
	return h.c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(agentctrl.FieldOwner), client.ForceOwnership)
}

// renewLeases creates or renews the agents' Leases of names, as their agents would.
func (h *harness) renewLeases(ctx context.Context, names []string) error {
	seconds := int32(3 * h.cfg.Refresh / time.Second)
	errs := fanout.Each(ctx, len(names), func(ctx context.Context, i int) error {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: rules.LeaseName(names[i]), Namespace: sim.Namespace}}
		now := metav1.NowMicro()
		spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To(names[i]), LeaseDurationSeconds: &seconds, RenewTime: &now}
		err := h.c.Get(ctx, client.ObjectKeyFromObject(l), l)
		switch {
		case apierrors.IsNotFound(err):
			l.Spec = spec
			return h.c.Create(ctx, l)
		case err != nil:
			return err
		}
		l.Spec = spec
		return h.c.Update(ctx, l)
	})
	return errors.Join(errs...)
}
