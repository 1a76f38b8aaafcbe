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
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func TestEventfFillsWhatTheEventsAPIRequires(t *testing.T) {
	r := NewRecorder(nil, "kube-multipath-agent", "kube-multipath-agent-"+strings.Repeat("n", 200))
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return at }
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "worker-1", UID: "u1", ResourceVersion: "7"}}
	r.Eventf(st, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "Applying %s failed: %s", "cfg", strings.Repeat("é", 600))
	ev := <-r.queue
	want := corev1.ObjectReference{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathNodeState", Name: "worker-1", UID: "u1", ResourceVersion: "7"}
	if ev.Regarding != want {
		t.Errorf("regarding %+v, want %+v", ev.Regarding, want)
	}
	if ev.Namespace != metav1.NamespaceDefault || !strings.HasPrefix(ev.Name, "worker-1.") || !ev.EventTime.Time.Equal(at) {
		t.Errorf("event %s/%s at %s: want default/worker-1.<time> at %s", ev.Namespace, ev.Name, ev.EventTime, at)
	}
	if ev.ReportingController != "kube-multipath-agent" || len(ev.ReportingInstance) != maxReportingInstance {
		t.Errorf("reporting %q / %d bytes, want the controller and an instance cut to %d", ev.ReportingController, len(ev.ReportingInstance), maxReportingInstance)
	}
	if ev.Type != corev1.EventTypeWarning || ev.Reason != "ApplyFailed" || ev.Action != "Apply" {
		t.Errorf("type %s, reason %s, action %s", ev.Type, ev.Reason, ev.Action)
	}
	if len(ev.Note) > maxNote || !utf8.ValidString(ev.Note) || !strings.HasPrefix(ev.Note, "Applying cfg failed: éé") {
		t.Errorf("note of %d bytes (valid UTF-8: %t): %.40s", len(ev.Note), utf8.ValidString(ev.Note), ev.Note)
	}
}

func TestEventfNeverBlocks(t *testing.T) {
	r := NewRecorder(nil, "c", "i")
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	for range eventBuffer + 10 {
		r.Eventf(st, nil, corev1.EventTypeNormal, "Applied", "Apply", "x")
	}
	if len(r.queue) != eventBuffer {
		t.Errorf("%d Events waiting, want the buffer's %d", len(r.queue), eventBuffer)
	}
	// A kind the scheme does not know is not recorded (and does not panic).
	r = NewRecorder(nil, "c", "i")
	r.Eventf(&appsv1.Deployment{}, nil, corev1.EventTypeNormal, "R", "A", "x")
	if len(r.queue) != 0 {
		t.Errorf("an Event about an unknown kind was queued")
	}
}

func TestGetFromAnInformersStore(t *testing.T) {
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.ConfigMap{}, 0, cache.Indexers{})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	if err := inf.GetStore().Add(cm); err != nil {
		t.Fatal(err)
	}
	got, err := Get[*corev1.ConfigMap](inf, corev1.Resource("configmaps"), "ns/a")
	if err != nil || got != cm {
		t.Errorf("Get = %p, %v; want the stored object %p", got, err, cm)
	}
	if _, err := Get[*corev1.ConfigMap](inf, corev1.Resource("configmaps"), "ns/b"); !apierrors.IsNotFound(err) {
		t.Errorf("Get of a missing object: %v, want NotFound", err)
	}
	if _, err := Get[*mpv1alpha1.MultipathNodeState](inf, corev1.Resource("configmaps"), "ns/a"); err == nil {
		t.Errorf("Get as another type succeeded")
	}
}

func TestStripManagedFields(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}}
	if got, err := StripManagedFields(cm); err != nil || got != cm || cm.ManagedFields != nil {
		t.Errorf("StripManagedFields = %v, %v; managed fields %v", got, err, cm.ManagedFields)
	}
}

// Built-in kinds travel as protobuf, as controller-runtime's client sends them; the agent's own
// custom resource as JSON (the only encoding a CRD serves).
func TestBuiltInKindsSpeakProtobuf(t *testing.T) {
	var accepts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		accepts = append(accepts, req.URL.Path+" "+req.Header.Get("Accept"))
		var obj runtime.Object = &mpv1alpha1.MultipathNodeState{TypeMeta: metav1.TypeMeta{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathNodeState"}, ObjectMeta: metav1.ObjectMeta{Name: "n"}}
		mediaType, gv := runtime.ContentTypeJSON, mpv1alpha1.GroupVersion
		if strings.HasPrefix(req.URL.Path, "/api/") {
			obj, mediaType, gv = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"k": "v"}}, runtime.ContentTypeProtobuf, corev1.SchemeGroupVersion
		}
		info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
		w.Header().Set("Content-Type", mediaType)
		if err := codecs.EncoderForVersion(info.Serializer, gv).Encode(obj, w); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := c.GetConfigMap(context.Background(), "ns", "cfg", "0")
	if err != nil || cm.Data["k"] != "v" {
		t.Fatalf("GetConfigMap = %+v, %v", cm, err)
	}
	if _, err := c.GetState(context.Background(), "n"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/api/v1/namespaces/ns/configmaps/cfg " + runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON,
		"/apis/" + mpv1alpha1.GroupVersion.String() + "/multipathnodestates/n " + runtime.ContentTypeJSON + ", */*",
	}
	if !slices.Equal(accepts, want) {
		t.Errorf("requests asked for\n%q\nwant\n%q", accepts, want)
	}
}
