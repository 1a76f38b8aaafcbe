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

package app

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

var (
	config = mpv1alpha1.RenderedConfigRef{Name: "multipath-conf-0123456789", Hash: "0123456789abcdef"}
	path   = mpv1alpha1.PathStatus{Device: "sdc", HCIL: "3:0:0:1", DMState: "active", CheckerState: "ready", DeviceState: "running", Group: 1, Priority: 50}
	groups = []mpv1alpha1.PathGroupStatus{{Group: 1, Selector: "service-time 0", Priority: 50, State: "active"}}
)

// reporting is a MultipathNodeState as the agent of node leaves it: two maps, one degraded,
// with their paths and path groups.
func reporting(node string) *mpv1alpha1.MultipathNodeState {
	down := path
	down.Device, down.CheckerState = "sdd", "faulty"
	return &mpv1alpha1.MultipathNodeState{
		ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{"team": "storage"}},
		Spec:       mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: &config},
		Status: mpv1alpha1.MultipathNodeStateStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{{Type: mpv1alpha1.DegradedCondition, Status: metav1.ConditionFalse, Reason: "Applied",
				LastTransitionTime: metav1.NewTime(time.Date(2026, time.March, 4, 5, 6, 7, 0, time.UTC))}},
			AppliedConfig:         &config,
			MultipathToolsVersion: "0.9.4",
			MapCount:              2,
			Maps: []mpv1alpha1.MapStatus{
				{WWID: "3600a098038303053453f463045727a01", Name: "data01", State: mpv1alpha1.MapOptimal, ActivePaths: 2, TotalPaths: 2, Paths: []mpv1alpha1.PathStatus{path, path}, PathGroups: groups},
				{WWID: "3600a098038303053453f463045727a02", Name: "data02", State: mpv1alpha1.MapDegraded, ActivePaths: 1, TotalPaths: 2, Paths: []mpv1alpha1.PathStatus{path, down}, PathGroups: groups},
			},
		},
	}
}

// withoutPaths is s as the manager's cache should keep it.
func withoutPaths(s *mpv1alpha1.MultipathNodeState) *mpv1alpha1.MultipathNodeState {
	s = s.DeepCopy()
	s.ManagedFields = nil
	for i := range s.Status.Maps {
		s.Status.Maps[i].Paths, s.Status.Maps[i].PathGroups = nil, nil
	}
	return s
}

func TestTrimNodeState(t *testing.T) {
	t.Run("paths, path groups and managed fields dropped, everything else kept", func(t *testing.T) {
		s := reporting("node-a")
		s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-multipath-agent", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status"}}
		want := withoutPaths(s)
		got, err := TrimNodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(got, want) {
			t.Errorf("TrimNodeState =\n%+v\nwant\n%+v", got, want)
		}
		if g := got.(*mpv1alpha1.MultipathNodeState); g.Status.Maps[1].State != mpv1alpha1.MapDegraded || g.Status.Maps[1].ActivePaths != 1 {
			t.Errorf("the counts the roll-up reads changed: %+v", g.Status.Maps[1])
		}
	})
	t.Run("the maps take no more room than they fill", func(t *testing.T) {
		s := reporting("node-a")
		s.Status.Maps = append(make([]mpv1alpha1.MapStatus, 0, 64), s.Status.Maps...)
		want := withoutPaths(s)
		got, _ := TrimNodeState(s)
		g := got.(*mpv1alpha1.MultipathNodeState)
		if cap(g.Status.Maps) != len(g.Status.Maps) {
			t.Errorf("maps: len %d, cap %d", len(g.Status.Maps), cap(g.Status.Maps))
		}
		if !apiequality.Semantic.DeepEqual(got, want) {
			t.Errorf("TrimNodeState =\n%+v\nwant\n%+v", got, want)
		}
	})
	t.Run("the WWIDs of two reports share one string", func(t *testing.T) {
		a, b := reporting("node-a"), reporting("node-b")
		// Decoded from two watch events, the same WWID is two strings.
		b.Status.Maps[0].WWID = strings.Clone(a.Status.Maps[0].WWID)
		if unsafe.StringData(a.Status.Maps[0].WWID) == unsafe.StringData(b.Status.Maps[0].WWID) {
			t.Fatal("the test needs two copies to start with")
		}
		ga, _ := TrimNodeState(a)
		gb, _ := TrimNodeState(b)
		wa, wb := ga.(*mpv1alpha1.MultipathNodeState).Status.Maps[0].WWID, gb.(*mpv1alpha1.MultipathNodeState).Status.Maps[0].WWID
		if wa != wb || unsafe.StringData(wa) != unsafe.StringData(wb) {
			t.Errorf("WWID %q and %q are not one string", wa, wb)
		}
	})
	t.Run("other objects pass through untouched", func(t *testing.T) {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}}}
		n.Status.Images = []corev1.ContainerImage{{Names: []string{"pause"}}}
		want := n.DeepCopy()
		got, err := TrimNodeState(n)
		if err != nil {
			t.Fatal(err)
		}
		if got != any(n) || !apiequality.Semantic.DeepEqual(n, want) {
			t.Errorf("TrimNodeState changed a Node: %+v", got)
		}
	})
}

// TestCacheOptions: the manager's cache options trim MultipathNodeStates with TrimNodeState.
func TestCacheOptions(t *testing.T) {
	o := CacheOptions("kube-multipath-system")
	var found bool
	for obj, by := range o.ByObject {
		if _, ok := obj.(*mpv1alpha1.MultipathNodeState); !ok {
			continue
		}
		found = true
		if by.Transform == nil {
			t.Fatal("no transform for MultipathNodeState")
		}
		got, err := by.Transform(reporting("node-a"))
		if err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(got, withoutPaths(reporting("node-a"))) {
			t.Errorf("the MultipathNodeState transform kept %+v", got)
		}
	}
	if !found {
		t.Error("MultipathNodeState not configured in the cache's ByObject")
	}
}

// TestCacheKeepsNoPaths reads a MultipathNodeState through a cache built with the manager's
// options from a real API server: the paths and managed fields are gone there, not in the API,
// and the default transform still strips the managed fields of the other kinds.
func TestCacheKeepsNoPaths(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := reporting("node-cache")
	status := s.Status
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(context.Background(), s) }()
	s.Status = status
	if err := env.Client.Status().Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "data01"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a098038303053453f463045727a01"}}
	if err := env.Client.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(context.Background(), w) }()

	o := CacheOptions("kube-multipath-system")
	o.Scheme = env.Scheme
	c, err := cache.New(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	// Informers start on first use.
	cached := &mpv1alpha1.MultipathNodeState{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Get(ctx, client.ObjectKey{Name: s.Name}, cached)
		if err == nil && len(cached.Status.Maps) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MultipathNodeState not in the cache: %v, %+v", err, cached.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	direct := &mpv1alpha1.MultipathNodeState{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: s.Name}, direct); err != nil {
		t.Fatal(err)
	}
	if len(direct.Status.Maps) != 2 || len(direct.Status.Maps[1].Paths) != 2 || len(direct.Status.Maps[1].PathGroups) != 1 || len(direct.ManagedFields) == 0 {
		t.Fatalf("the API server should keep the paths and managed fields: %+v", direct)
	}
	cached.TypeMeta = direct.TypeMeta // the cache fills the kind in; the direct client does not
	if !apiequality.Semantic.DeepEqual(cached, withoutPaths(direct)) {
		t.Errorf("cached MultipathNodeState =\n%+v\nwant the API's without paths and managed fields\n%+v", cached, withoutPaths(direct))
	}

	cachedW := &mpv1alpha1.MultipathWWID{}
	if err := c.Get(ctx, client.ObjectKey{Name: w.Name}, cachedW); err != nil {
		t.Fatal(err)
	}
	if len(cachedW.ManagedFields) != 0 {
		t.Errorf("cached MultipathWWID keeps %d managed fields entries, want none", len(cachedW.ManagedFields))
	}
}
