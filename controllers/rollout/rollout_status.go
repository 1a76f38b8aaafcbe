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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/rolloutplan"
)

const (
	// maxEventNote is the longest note an events.k8s.io/v1 Event accepts.
	maxEventNote = 1024
)

// renderState is what the render controller's Rendered condition says about the current
// generation of the MultipathConfig.
type renderState int

const (
	// renderPending: Rendered is absent, Unknown, or describes an older generation.
	renderPending renderState = iota
	// renderDone: Rendered is True for the current generation; status.renderedConfig is its output.
	renderDone
	// renderInvalid: Rendered is False for the current generation; status.renderedConfig, if
	// any, is the last good config.
	renderInvalid
)

// renderView is the Rendered condition as the rollout reads it.
type renderView struct {
	state renderState
	// message is the Rendered condition's message when state is renderInvalid.
	message string
}

// readRender reads the Rendered condition of cfg.
func readRender(cfg *mpv1alpha1.MultipathConfig) renderView {
	c := conditions.Get(cfg, mpv1alpha1.RenderedCondition)
	switch {
	case c == nil || c.ObservedGeneration != cfg.Generation:
		return renderView{state: renderPending}
	case c.Status == metav1.ConditionTrue && cfg.Status.RenderedConfig != nil:
		return renderView{state: renderDone}
	case c.Status == metav1.ConditionFalse:
		return renderView{state: renderInvalid, message: c.Message}
	default:
		return renderView{state: renderPending}
	}
}

// statusInput is what one pass learned, for setStatus.
type statusInput struct {
	// render is the Rendered condition as read.
	render renderView
	// selectorErr is why spec.nodeSelector is unusable; nil when it is fine.
	selectorErr error
	// planErr is why the planner refused spec.rollout; nil when it is fine.
	planErr error
	// plan is the rollout's status against status.renderedConfig; nil without one.
	plan *rolloutplan.Status
	// selected and unknown count the selected nodes, and those not Ready, for when plan is nil.
	selected, unknown int32
	// deleting is true while the MultipathConfig is being deleted.
	deleting bool
	// held is the TeardownHeld message; empty when no node is held.
	held string
}

// setStatus is the pure status setter of the MultipathConfig: status.observedGeneration,
// status.nodes, and Ready, Reconciling and Stalled. It leaves status.renderedConfig and the
// Rendered condition to the render controller.
//
// observedGeneration moves to the object's generation only once the render controller has
// judged that generation (Rendered True or False for it), so kstatus reports InProgress while a
// spec change has not been acted on.
func setStatus(cfg *mpv1alpha1.MultipathConfig, in statusInput) {
	if in.render.state != renderPending {
		cfg.Status.ObservedGeneration = cfg.Generation
	}
	switch {
	case in.selectorErr != nil:
		// Which nodes are selected is unknown: keep the last counts.
	case in.plan != nil:
		cfg.Status.Nodes = in.plan.NodeCounts()
	default:
		cfg.Status.Nodes = mpv1alpha1.NodeCounts{Selected: in.selected, Unknown: in.unknown}
	}
	conditions.SetSummary(cfg, summarise(cfg, in))
	if in.held == "" {
		conditions.Delete(cfg, mpv1alpha1.TeardownHeldCondition)
	} else {
		conditions.Set(cfg, metav1.Condition{Type: mpv1alpha1.TeardownHeldCondition, Status: metav1.ConditionTrue,
			Reason: mpv1alpha1.InUseLUNsReason, Message: in.held})
	}
}

// summarise decides Ready, Reconciling and Stalled. Causes that need a person come first.
func summarise(cfg *mpv1alpha1.MultipathConfig, in statusInput) conditions.Summary {
	stalled := func(reason, msg string) conditions.Summary {
		return conditions.Summary{Stalled: &conditions.Message{Reason: reason, Message: msg}}
	}
	switch {
	case in.selectorErr != nil:
		return stalled(mpv1alpha1.InvalidSpecReason, fmt.Sprintf(
			"spec.nodeSelector is invalid: %v. No node is handed a config or torn down until it is fixed.", in.selectorErr))
	case in.planErr != nil:
		return stalled(mpv1alpha1.InvalidSpecReason, fmt.Sprintf(
			"spec.rollout is invalid: %v. No node is handed a config until it is fixed.", in.planErr))
	case in.render.state == renderInvalid:
		msg := in.render.message
		if in.plan != nil {
			msg += " " + in.plan.Message
		} else {
			msg += " No config was rendered before, so no node has one to keep."
		}
		return stalled(mpv1alpha1.InvalidSpecReason, msg)
	case in.render.state == renderPending || in.plan == nil:
		return conditions.Summary{Reconciling: &conditions.Message{Reason: mpv1alpha1.RenderPendingReason, Message: fmt.Sprintf(
			"Waiting for generation %d of MultipathConfig %s to be rendered; no node is handed a config until then.", cfg.Generation, cfg.Name)}}
	case in.plan.Stalled:
		return stalled(in.plan.Reason, in.plan.Message)
	case in.deleting && !in.plan.Complete:
		return conditions.Summary{Reconciling: &conditions.Message{Reason: mpv1alpha1.TeardownInProgressReason, Message: fmt.Sprintf(
			"MultipathConfig %s is being deleted: its nodes are torn down through the rollout budget. %s", cfg.Name, in.plan.Message)}}
	case in.deleting && in.held != "":
		return conditions.Summary{ReadyMessage: conditions.Message{Reason: mpv1alpha1.InUseLUNsReason, Message: fmt.Sprintf(
			"MultipathConfig %s is being deleted and waits for in-use LUNs (see TeardownHeld).", cfg.Name)}}
	case in.deleting:
		return conditions.Summary{Reconciling: &conditions.Message{Reason: mpv1alpha1.TeardownInProgressReason, Message: fmt.Sprintf(
			"MultipathConfig %s is being deleted: every node applied the empty config; removing their MultipathNodeStates.", cfg.Name)}}
	case in.plan.Complete:
		return conditions.Summary{Ready: true, ReadyMessage: conditions.Message{Reason: in.plan.Reason, Message: in.plan.Message}}
	default:
		return conditions.Summary{Reconciling: &conditions.Message{Reason: in.plan.Reason, Message: in.plan.Message}}
	}
}

// rolloutEvent is an Event to send after a status write.
type rolloutEvent struct {
	eventType, reason, note string
}

// transitionEvents returns the Events for the transitions from before to after: a Warning when
// the rollout stops on failed nodes, a Normal when it completes (again, for a new config or a
// new set of nodes), a Normal when in-use LUNs start holding a teardown.
func transitionEvents(before, after *mpv1alpha1.MultipathConfig) []rolloutEvent {
	var out []rolloutEvent
	if h := conditions.Get(after, mpv1alpha1.TeardownHeldCondition); h != nil && !conditions.IsTrue(before, mpv1alpha1.TeardownHeldCondition) {
		out = append(out, rolloutEvent{corev1.EventTypeNormal, mpv1alpha1.InUseLUNsReason, conditions.Truncate(h.Message, maxEventNote)})
	}
	if s := conditions.Get(after, mpv1alpha1.StalledCondition); isTrueWithReason(s, mpv1alpha1.RolloutFailedReason) &&
		!isTrueWithReason(conditions.Get(before, mpv1alpha1.StalledCondition), mpv1alpha1.RolloutFailedReason) {
		out = append(out, rolloutEvent{corev1.EventTypeWarning, mpv1alpha1.RolloutFailedReason, conditions.Truncate(s.Message, maxEventNote)})
	}
	if r := conditions.Get(after, mpv1alpha1.ReadyCondition); r != nil && r.Status == metav1.ConditionTrue {
		if b := conditions.Get(before, mpv1alpha1.ReadyCondition); b == nil || b.Status != metav1.ConditionTrue || b.Message != r.Message {
			out = append(out, rolloutEvent{corev1.EventTypeNormal, mpv1alpha1.RolloutCompleteReason, conditions.Truncate(r.Message, maxEventNote)})
		}
	}
	return out
}

func isTrueWithReason(c *metav1.Condition, reason string) bool {
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
}
