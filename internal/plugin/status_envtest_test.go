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

package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/health"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// env is the package's control plane, for the end-to-end tests of `status` and `maps`.
var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		return e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultOperatorNamespace}})
	}))
}

// seedCluster creates, as the agents, the kubelet and an admin would, three managed nodes and two
// LUNs: cli-worker-2 has lost a path to data01, cli-worker-3 lacks data02 and failed its last
// apply. Then it runs one pass of the health controller, as the operator would, at now.
func seedCluster(t *testing.T, now time.Time) {
	t.Helper()
	ctx := t.Context()
	c := env.Client
	var seeded []client.Object
	t.Cleanup(func() { testenv.RemoveSeeded(t, c, seeded) })
	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
		seeded = append(seeded, obj)
	}
	create(&mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"san": "fc"}}}})
	create(&mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "data01"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid01, Alias: "data01"}})
	create(&mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "data02"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid02, Alias: "data02"}})
	both := []mpv1alpha1.MapStatus{fxMap(wwid01, "data01", mpv1alpha1.MapOptimal, 2, 2), fxMap(wwid02, "data02", mpv1alpha1.MapOptimal, 2, 2)}
	maps := map[string][]mpv1alpha1.MapStatus{
		"cli-worker-1": both,
		"cli-worker-2": {fxMap(wwid01, "data01", mpv1alpha1.MapDegraded, 1, 2), both[1]},
		"cli-worker-3": both[:1],
	}
	for _, name := range []string{"cli-worker-1", "cli-worker-2", "cli-worker-3"} {
		n := fxNode(name, true)
		status := n.Status
		create(&n)
		n.Status = status
		if err := c.Status().Update(ctx, &n); err != nil {
			t.Fatal(err)
		}
		l := fxLease(name, 2*time.Second)
		l.Spec.RenewTime = ptr.To(metav1.NewMicroTime(now.Add(-2 * time.Second)))
		create(&l)
		s := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}}
		create(s)
		s.Status = fxState(name, maps[name]...).Status
		if name == "cli-worker-3" {
			s.Status.Conditions = []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionTrue, Reason: mpv1alpha1.ApplyFailedReason,
				Message: "multipathd reconfigure timed out after 30s", LastTransitionTime: metav1.NewTime(now.Add(-7 * time.Minute))}}
		}
		if err := c.Status().Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	r := &health.Reconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(now), Namespace: defaultOperatorNamespace}
	if _, err := r.Reconcile(ctx, reconcile.Request{}); err != nil {
		t.Fatalf("health pass: %v", err)
	}
}

// runCLI runs one command, built as NewCommand builds it but with the clock at now, against the
// control plane through a kubeconfig file, as `kubectl multipath` would be run.
func runCLI(t *testing.T, now time.Time, args ...string) (string, error) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	streams := IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	flags := newClusterFlags()
	flags.now = func() time.Time { return now }
	cmd := statusCommand(&statusOptions{IOStreams: streams, cluster: flags})
	switch args[0] {
	case "maps":
		cmd = mapsCommand(&mapsOptions{IOStreams: streams, cluster: flags})
	case "version":
		cmd = versionCommand(&versionOptions{IOStreams: streams, cluster: flags})
	case "diff":
		cmd = diffCommand(&diffOptions{IOStreams: streams, cluster: flags, newReader: flags.reader})
	}
	cmd.SetArgs(append(args[1:], "--kubeconfig", kubeconfig))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestStatusAndMapsOnACluster(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	seedCluster(t, now)

	out, err := runCLI(t, now, "status")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "status-envtest.golden", out)
	if strings.Contains(out, "roll-up differs") {
		t.Error("the command line and the operator disagree on the same objects")
	}

	// data02 is missing, data01 degraded: --fail-on says so in the exit code, after the report.
	out, err = runCLI(t, now, "status", "--fail-on", "degraded")
	if exit := (*ExitError)(nil); !errors.As(err, &exit) || exit.Code != ExitCodeThreshold ||
		err.Error() != "2 LUNs are degraded or worse: data02 (missing 2/3), data01 (degraded 2/3)" || !strings.Contains(out, "DEG 1/2") {
		t.Errorf("--fail-on degraded: err = %v, out:\n%s", err, out)
	}
	if _, err = runCLI(t, now, "status", "--fail-on", "failed"); err != nil {
		t.Errorf("--fail-on failed with no failed LUN: %v", err)
	}

	out, err = runCLI(t, now, "status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var report StatusReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("-o json is not a StatusReport: %v\n%s", err, out)
	}
	if len(report.LUNs) != 2 || report.LUNs[0].Health.State != mpv1alpha1.MapMissing || report.LUNs[0].Recorded.Nodes != "2/3" || report.NodeErrorCount != 1 {
		t.Errorf("-o json = %+v", report)
	}

	out, err = runCLI(t, now, "maps", "cli-worker-2")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "maps-envtest.golden", out)

	// The drill-downs, read live: the LUN's Event is found by the object it regards (recorded
	// as the manager records them, events.k8s.io/v1 in namespace default), another object's is not.
	data01 := &mpv1alpha1.MultipathWWID{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: "data01"}, data01); err != nil {
		t.Fatal(err)
	}
	for i, regarding := range []corev1.ObjectReference{
		{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathWWID", Name: "data01", UID: data01.UID},
		{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathWWID", Name: "data02"},
		{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathNodeState", Name: "cli-worker-3"},
	} {
		e := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cli-event-%d", i), Namespace: metav1.NamespaceDefault},
			EventTime: metav1.NewMicroTime(now.Add(-time.Minute)), ReportingController: "kube-multipath-render", ReportingInstance: "kube-multipath-render-1",
			Action: "Render", Reason: "Note" + regarding.Name, Type: corev1.EventTypeNormal, Regarding: regarding, Note: "about " + regarding.Name}
		if err := env.Client.Create(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), e) })
	}
	// A user whose role grants only core/v1 Events (as view does) reads the same Events.
	events, why := listEvents(t.Context(), forbidding{Reader: env.Client}, "MultipathWWID", "data01", data01.UID)
	if why != "" || len(events) != 1 || events[0].Reason != "Notedata01" || events[0].From != "kube-multipath-render" {
		t.Errorf("through core/v1: %+v, %q", events, why)
	}
	if _, why = listEvents(t.Context(), forbidding{Reader: env.Client, core: true}, "MultipathWWID", "data01", data01.UID); !strings.Contains(why, "Events could not be read") {
		t.Errorf("no Events readable: %q", why)
	}

	out, err = runCLI(t, now, "status", "lun", "data01")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "status-lun-envtest.golden", out)
	if !strings.Contains(out, "Notedata01") || strings.Contains(out, "Notedata02") {
		t.Errorf("status lun must list the LUN's own Events only:\n%s", out)
	}
	out, err = runCLI(t, now, "status", "node", "cli-worker-3")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "status-node-envtest.golden", out)
	if !strings.Contains(out, "Notecli-worker-3") || !strings.Contains(out, "Missing:    data02") {
		t.Errorf("status node: its Event, and the LUN it lacks:\n%s", out)
	}
	if _, err = runCLI(t, now, "status", "lun", "no-such-lun"); err == nil || !strings.Contains(err.Error(), `no MultipathWWID is named "no-such-lun"`) {
		t.Errorf("status lun of an unknown LUN: %v", err)
	}
	if _, err = runCLI(t, now, "status", "node", "no-such-node"); err == nil || !strings.Contains(err.Error(), "node no-such-node has no MultipathNodeState") {
		t.Errorf("status node of an unknown node: %v", err)
	}

	_, err = runCLI(t, now, "maps", "no-such-node")
	if err == nil || !strings.Contains(err.Error(), "node no-such-node has no MultipathNodeState") {
		t.Errorf("maps of an unknown node: err = %v", err)
	}

	// Ten minutes on, no agent renewed its Lease: nothing is trusted, nothing is healthy.
	out, err = runCLI(t, now.Add(10*time.Minute), "status", "--refresh-interval", "10s")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Not trusted (3 nodes;") || strings.Contains(out, "ok 2/2") {
		t.Errorf("stale reports must be ?:\n%s", out)
	}
}

// forbidding refuses to list events.k8s.io Events, and core ones too when core is set, as the API
// server does for a user without those rules.
type forbidding struct {
	client.Reader
	core bool
}

func (f forbidding) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	switch list.(type) {
	case *eventsv1.EventList:
		return apierrors.NewForbidden(schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "", errors.New("RBAC: not granted"))
	case *corev1.EventList:
		if f.core {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("RBAC: not granted"))
		}
	}
	return f.Reader.List(ctx, list, opts...)
}
