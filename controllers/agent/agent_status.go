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
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
)

// maxMessage bounds condition messages and Event notes (a validator's complaints can be long;
// an Event note holds at most 1 KiB).
const maxMessage = 1000

// statusInput is what one pass found, for setStatus.
type statusInput struct {
	// applied is the config the host runs (nil: none recorded).
	applied *mpv1alpha1.RenderedConfigRef
	// applying is true for the write made just before the transaction runs.
	applying bool
	// applyErr is why the desired config is not applied.
	applyErr error
	// daemonErr is why multipathd's maps could not be read; maps is what was read.
	daemonErr error
	maps      *mapsReport
	// hostConflicts: see scope.hostConflicts (nil: unknown, keep what is reported).
	hostConflicts []mpv1alpha1.HostConflict
	// unmanaged: see scope.unmanaged (nil: unknown, keep what is reported).
	unmanaged *unmanagedReport
}

// setStatus writes what a pass found into st.Status. Degraded (ApplyFailed) is present only
// while the last apply of the current spec failed; Ready summarises, kstatus style.
func setStatus(st *mpv1alpha1.MultipathNodeState, in statusInput) {
	st.Status.ObservedGeneration = st.Generation
	st.Status.AppliedConfig = in.applied.DeepCopy()
	if in.maps != nil {
		st.Status.MultipathToolsVersion = in.maps.version
		st.Status.MapCount = in.maps.mapCount
		st.Status.Maps = in.maps.maps
		setVersionCondition(st)
	}
	setHostConflicts(st, in.hostConflicts)
	if in.unmanaged != nil {
		st.Status.UnmanagedDevices = in.unmanaged.devices
		st.Status.UnmanagedDeviceCount = in.unmanaged.count
	}
	desired := st.Spec.DesiredConfig

	switch {
	case in.applyErr != nil:
		conditions.Set(st, metav1.Condition{
			Type:    mpv1alpha1.DegradedCondition,
			Status:  metav1.ConditionTrue,
			Reason:  mpv1alpha1.ApplyFailedReason,
			Message: conditions.Truncate(applyFailedMessage(desired, in.applied, in.applyErr), maxMessage),
		})
	case !in.applying:
		conditions.Delete(st, mpv1alpha1.DegradedCondition)
	}

	var sum conditions.Summary
	switch {
	case in.applying:
		sum.Reconciling = &conditions.Message{Reason: mpv1alpha1.ApplyingReason, Message: fmt.Sprintf("Applying config %s to the node.", desired.Name)}
	case in.applyErr != nil:
		sum.ReadyMessage = conditions.Message{Reason: mpv1alpha1.ApplyFailedReason, Message: conditions.Truncate(applyFailedMessage(desired, in.applied, in.applyErr), maxMessage)}
	case in.daemonErr != nil:
		sum.ReadyMessage = conditions.Message{Reason: mpv1alpha1.MultipathdUnavailableReason, Message: conditions.Truncate(fmt.Sprintf(
			"Cannot read multipathd's maps (is multipath-tools installed and multipathd running on the node?): %v", in.daemonErr), maxMessage)}
	case desired == nil:
		sum.ReadyMessage = conditions.Message{Reason: mpv1alpha1.WaitingForConfigReason, Message: "No config has been handed out to this node yet."}
	case in.applied == nil || in.applied.Hash != desired.Hash:
		sum.ReadyMessage = conditions.Message{Reason: mpv1alpha1.ApplyingReason, Message: fmt.Sprintf("Config %s is not applied yet.", desired.Name)}
	default:
		sum.Ready = true
		sum.ReadyMessage = conditions.Message{Reason: mpv1alpha1.AppliedReason, Message: fmt.Sprintf("The node runs config %s.", desired.Name)}
	}
	conditions.SetSummary(st, sum)
}

func applyFailedMessage(desired, applied *mpv1alpha1.RenderedConfigRef, err error) string {
	name := "(none)"
	if desired != nil {
		name = desired.Name
	}
	running := "no managed config"
	if applied != nil {
		running = "config " + applied.Name
	}
	return fmt.Sprintf("Applying config %s failed; the node keeps %s: %v", name, running, err)
}

// reportSlowApply writes Reconciling=True (Applying) once the transaction has run for
// SlowApply, so that a slow apply shows while it runs. The returned func ends the wait; it
// returns after that write, if it started, so the pass's final status is written after it.
// An apply the rollout wave asked for is not reported while it runs: the wave shows the node
// is applying, its Lease confirms the outcome, and its status waits for the spec (holdReport),
// so that a wave over a thousand busy nodes is not a thousand more writes of whole objects among
// the confirmations.
func (r *Reconciler) reportSlowApply(ctx context.Context, s *scope, desired *mpv1alpha1.RenderedConfigRef) func() {
	if s.fromWave {
		return func() {}
	}
	delay := r.SlowApply
	if delay <= 0 {
		delay = DefaultSlowApply
	}
	// The goroutine works on its own copy; s is updated only after it has finished.
	st := s.state.DeepCopy()
	setStatus(st, statusInput{applied: s.applied, applying: true, maps: s.maps})
	if apiequality.Semantic.DeepEqual(s.written, st.Status) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var wrote bool
	wg.Go(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.applyStatus(ctx, st); err != nil {
			log.FromContext(ctx).Error(err, "Cannot report that the apply is running", "config", desired.Name)
			return
		}
		statusWritesTotal.Inc()
		wrote = true
	})
	return func() {
		close(done)
		wg.Wait()
		if wrote {
			s.state.Status = st.Status
			s.written = r.recordWritten(s.state)
		}
	}
}

// updateStatus writes the pass's status when it differs from the last one written. When hold
// is set (holdReport), it is written only if the map report changed.
func (r *Reconciler) updateStatus(ctx context.Context, s *scope, hold bool) error {
	setStatus(s.state, statusInput{applied: s.applied, applyErr: s.applyErr, daemonErr: s.daemonErr, maps: s.maps, hostConflicts: s.hostConflicts, unmanaged: s.unmanaged})
	if apiequality.Semantic.DeepEqual(s.written, s.state.Status) {
		return nil
	}
	if hold && apiequality.Semantic.DeepEqual(s.written.Maps, s.state.Status.Maps) {
		return nil
	}
	if err := r.applyStatus(ctx, s.state); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to write the status of MultipathNodeState %s: %w", klog.KObj(s.state), err)
	}
	statusWritesTotal.Inc()
	s.written = r.recordWritten(s.state)
	return nil
}

// recordWritten records st's status as written: its map report as reported, and a copy of the
// status to compare the pass's next write with. The copy shares the report (never changed in
// place) rather than copying 10,000 maps; the rest is copied, as the setters change conditions
// in place.
func (r *Reconciler) recordWritten(st *mpv1alpha1.MultipathNodeState) mpv1alpha1.MultipathNodeStateStatus {
	r.reported = reportRecord{uid: st.UID, maps: st.Status.Maps}
	rest := st.Status
	rest.Maps = nil
	written := *rest.DeepCopy()
	written.Maps = st.Status.Maps
	return written
}

// applyStatus writes st's status by server-side apply: the agent owns the whole status. The
// body is encoded straight from the typed status, and the reply is not decoded: going through
// unstructured built the report again as maps of interfaces, then the reply the same way, four
// times the report in garbage on every write (with 10,000 maps, tens of MiB; docs/agent.md).
func (r *Reconciler) applyStatus(ctx context.Context, st *mpv1alpha1.MultipathNodeState) error {
	body, err := json.Marshal(statusApply{
		APIVersion: mpv1alpha1.GroupVersion.String(),
		Kind:       "MultipathNodeState",
		Metadata:   statusApplyMeta{Name: st.Name},
		Status:     &st.Status,
	})
	if err != nil {
		return err
	}
	return r.Kube.ApplyStatus(ctx, st.Name, body, FieldOwner)
}

// statusApply is the apply configuration of a MultipathNodeState's status: its identity and
// the status, nothing of the spec or the rest of the metadata.
type statusApply struct {
	APIVersion string                               `json:"apiVersion"`
	Kind       string                               `json:"kind"`
	Metadata   statusApplyMeta                      `json:"metadata"`
	Status     *mpv1alpha1.MultipathNodeStateStatus `json:"status"`
}

type statusApplyMeta struct {
	Name string `json:"name"`
}
