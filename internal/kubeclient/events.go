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

package kubeclient

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kube-multipath/kube-multipath/internal/conditions"
)

const (
	// eventBuffer is how many Events wait to be written before more are dropped. The agent
	// emits a handful per apply, and at most one per failed attempt, which backs off.
	eventBuffer = 64
	// maxNote is the API's bound on an Event's note, in bytes.
	maxNote = 1024
	// maxReportingInstance is the API's bound on reportingInstance.
	maxReportingInstance = 128
	eventAttempts        = 3
)

// Recorder writes events.k8s.io/v1 Events, as client-go's events recorder does, without the
// scheme of every built-in kind that package links. Eventf never blocks: Events are written by
// Start, one at a time, and those past a full buffer are dropped and logged (an API server too
// slow for a few Events per apply must not hold up the apply). Unlike client-go's, it does not
// fold repeats into a series: the agent's repeats are its failed applies, spaced by a backoff.
type Recorder struct {
	client               *Client
	controller, instance string
	queue                chan *eventsv1.Event
	now                  func() time.Time
}

// NewRecorder returns a recorder of Events reported by controller (reportingController) from
// instance (reportingInstance, cut to the API's 128 bytes).
func NewRecorder(c *Client, controller, instance string) *Recorder {
	return &Recorder{
		client: c, controller: controller, instance: conditions.Truncate(instance, maxReportingInstance),
		queue: make(chan *eventsv1.Event, eventBuffer), now: time.Now,
	}
}

// Eventf records an Event about regarding, of a kind in the agent's scheme; related is not recorded by the
// agent and may be nil. The signature is controller-runtime's EventRecorder's.
func (r *Recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference(regarding)
	if err != nil {
		log.Log.WithName("events").Error(err, "Cannot record an Event", "reason", reason)
		return
	}
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault // the namespace of Events about cluster-scoped objects
	}
	now := r.now()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: ns},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           ref,
		Note:                conditions.Truncate(fmt.Sprintf(note, args...), maxNote),
		Type:                eventtype,
	}
	if related != nil {
		if rel, err := reference(related); err == nil {
			ev.Related = &rel
		}
	}
	select {
	case r.queue <- ev:
	default:
		log.Log.WithName("events").Info("Dropped an Event: too many waiting to be written", "reason", reason, "regarding", ref.Name)
	}
}

// Start writes the recorded Events until ctx ends.
func (r *Recorder) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("events")
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-r.queue:
			if err := r.write(ctx, ev); err != nil && ctx.Err() == nil {
				logger.Error(err, "Cannot write an Event", "reason", ev.Reason, "regarding", ev.Regarding.Name)
			}
		}
	}
}

// write creates ev, trying again after a second, then two, when the API server did not answer.
func (r *Recorder) write(ctx context.Context, ev *eventsv1.Event) error {
	var err error
	for attempt := range eventAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		err = r.client.CreateEvent(ctx, ev)
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			return err
		}
	}
	return err
}

// reference is the ObjectReference of obj, whose kind the scheme must know.
func reference(obj runtime.Object) (corev1.ObjectReference, error) {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil {
		return corev1.ObjectReference{}, err
	}
	a, err := meta.Accessor(obj)
	if err != nil {
		return corev1.ObjectReference{}, err
	}
	apiVersion, kind := gvks[0].ToAPIVersionAndKind()
	return corev1.ObjectReference{
		APIVersion: apiVersion, Kind: kind,
		Namespace: a.GetNamespace(), Name: a.GetName(), UID: a.GetUID(), ResourceVersion: a.GetResourceVersion(),
	}, nil
}
