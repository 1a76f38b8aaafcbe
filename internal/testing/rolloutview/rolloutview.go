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

// Package rolloutview follows, for tests, what the rollout tells each node and what each node
// runs, and finds the most nodes ever told to run a config they did not run yet: what
// maxUnavailable bounds. A node is told by the rollout wave or by its MultipathNodeState's spec,
// and runs a config by its agent Lease's confirmation or its status: three kinds of object, each
// followed by a list and a watch of its own (not an informer: an informer's relist delivers
// objects one by one, mixing moments). Their events are kept with their resourceVersions (etcd
// revisions, one sequence across kinds, which tests against their own API server may rely on)
// and replayed in that order, a relist replacing its kind's view at once: every view the budget
// is computed on is one the cluster really was in. While one kind's watch was broken (an API
// server restart), views are not evaluated until its relist: they would pair the other kinds'
// new state with that kind's old one.
package rolloutview

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

// Option changes what a Follower counts.
type Option int

const (
	// OneBudget counts every node told to run a config it does not run, the empty config (a
	// teardown) included, under one budget, as the rollout plan does; by default the nodes are
	// counted per config, and only configs that manage LUNs.
	OneBudget Option = iota + 1
)

// Follower records the events; Replay evaluates them.
type Follower struct {
	names     map[string]bool
	oneBudget bool

	mu      sync.Mutex
	events  []observation
	relists int
	// last is the newest revision seen per kind; gaps are the revisions a kind's watch missed
	// (from its last event to the relist that followed a broken watch).
	last map[string]int64
	gaps []gap
}

// gap is an open interval of revisions in which one kind's events are unknown: views inside it
// mix that kind's older state with the others' newer one, and are not evaluated.
type gap struct{ from, to int64 }

// observation is one list or watch event of one kind.
type observation struct {
	rv   int64
	kind string
	// list is set for a list: items replace the kind's view.
	list  bool
	items []client.Object
	// deleted is set for a deletion of items[0].
	deleted bool
}

const (
	kindState = "MultipathNodeState"
	kindWave  = "wave"
	kindLease = "Lease"
)

// Start follows the MultipathNodeStates of nodes, and the wave and Leases in namespace, until
// ctx ends. It returns once each kind was listed.
func Start(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, namespace string, nodes []string, opts ...Option) (*Follower, error) {
	f := &Follower{names: map[string]bool{}, oneBudget: slices.Contains(opts, OneBudget)}
	for _, n := range nodes {
		f.names[n] = true
	}
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	follows := []struct {
		kind string
		list func() client.ObjectList
		opts []client.ListOption
	}{
		{kindState, func() client.ObjectList { return &mpv1alpha1.MultipathNodeStateList{} }, nil},
		{kindWave, func() client.ObjectList { return &corev1.ConfigMapList{} }, []client.ListOption{client.InNamespace(namespace),
			client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", wave.Name)}}},
		{kindLease, func() client.ObjectList { return &coordinationv1.LeaseList{} }, []client.ListOption{client.InNamespace(namespace)}},
	}
	for _, k := range follows {
		synced := make(chan struct{})
		go f.follow(ctx, wc, k.kind, k.list, k.opts, synced)
		select {
		case <-synced:
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("the %s watch did not sync", k.kind)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f, nil
}

// follow lists one kind, records the list, and watches from the list's resourceVersion; when
// the watch ends it starts over.
func (f *Follower) follow(ctx context.Context, wc client.WithWatch, kind string, newList func() client.ObjectList, opts []client.ListOption, synced chan struct{}) {
	first := true
	for ctx.Err() == nil {
		list := newList()
		if err := wc.List(ctx, list, opts...); err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		var items []client.Object
		if err := meta.EachListItem(list, func(o runtime.Object) error {
			items = append(items, o.(client.Object))
			return nil
		}); err != nil {
			continue
		}
		f.record(observation{rv: revision(list.GetResourceVersion()), kind: kind, list: true, items: items}, !first)
		if first {
			close(synced)
			first = false
		}
		watcher, err := wc.Watch(ctx, newList(), append(slices.Clone(opts), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.GetResourceVersion()}})...)
		if err != nil {
			continue
		}
		for ev := range watcher.ResultChan() {
			o, ok := ev.Object.(client.Object)
			if !ok || ev.Type == watch.Error {
				break // an Error event (the resourceVersion is too old): list again
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				f.record(observation{rv: revision(o.GetResourceVersion()), kind: kind, items: []client.Object{o}, deleted: ev.Type == watch.Deleted}, false)
			}
		}
		watcher.Stop()
	}
}

// revision is a resourceVersion as the etcd revision it is.
func revision(rv string) int64 {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return n
}

func (f *Follower) record(o observation, relist bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil {
		f.last = map[string]int64{}
	}
	if relist {
		f.relists++
		if from := f.last[o.kind]; from < o.rv {
			f.gaps = append(f.gaps, gap{from: from, to: o.rv})
		}
	}
	f.last[o.kind] = max(f.last[o.kind], o.rv)
	f.events = append(f.events, o)
}

// Result is what a replay found.
type Result struct {
	// MaxBusy is the most nodes seen at once told to run one config they do not run yet
	// (applying it, or failed to), MaxBusyAt says which and when.
	MaxBusy   int
	MaxBusyAt string
	// OverBudget lists every view with more than the budget Replay was given busy nodes.
	OverBudget []string
	// Handed lists, per node, every config hash it was ever told to run.
	Handed map[string]map[string]bool
	// Events and Relists count what was replayed; Skipped counts the views not evaluated,
	// inside a kind's watch gap.
	Events, Relists, Skipped int
}

// view is the cluster at one revision.
type view struct {
	states map[string]*mpv1alpha1.MultipathNodeState
	wave   *wave.Wave
	leases map[string]*coordinationv1.Lease
}

// Replay rebuilds every view the cluster was in, in revision order, and evaluates each against
// budget (0: no budget).
func (f *Follower) Replay(budget int) Result {
	f.mu.Lock()
	events, gaps := slices.Clone(f.events), slices.Clone(f.gaps)
	res := Result{Handed: map[string]map[string]bool{}, Events: len(f.events), Relists: f.relists}
	f.mu.Unlock()
	// A list at revision r holds every write up to r: it goes after the events of r.
	slices.SortStableFunc(events, func(a, b observation) int {
		if a.rv != b.rv {
			return cmp.Compare(a.rv, b.rv)
		}
		switch {
		case a.list == b.list:
			return 0
		case a.list:
			return 1
		}
		return -1
	})
	v := view{states: map[string]*mpv1alpha1.MultipathNodeState{}, leases: map[string]*coordinationv1.Lease{}}
	for _, e := range events {
		switch e.kind {
		case kindState:
			if e.list {
				v.states = map[string]*mpv1alpha1.MultipathNodeState{}
			}
			for _, o := range e.items {
				st := o.(*mpv1alpha1.MultipathNodeState)
				switch {
				case !f.names[st.Name]:
				case e.deleted:
					delete(v.states, st.Name)
				default:
					v.states[st.Name] = st
				}
			}
		case kindWave:
			if e.list || e.deleted {
				v.wave = nil
			}
			for _, o := range e.items {
				if cm := o.(*corev1.ConfigMap); !e.deleted && cm.Name == wave.Name {
					v.wave, _ = wave.FromConfigMap(cm)
				}
			}
		case kindLease:
			if e.list {
				v.leases = map[string]*coordinationv1.Lease{}
			}
			for _, o := range e.items {
				l := o.(*coordinationv1.Lease)
				if e.deleted {
					delete(v.leases, l.Name)
				} else {
					v.leases[l.Name] = l
				}
			}
		}
		if !slices.ContainsFunc(gaps, func(g gap) bool { return g.from < e.rv && e.rv < g.to }) {
			v.evaluate(&res, budget, e, f.oneBudget)
		} else {
			res.Skipped++
		}
	}
	return res
}

// evaluate counts, for each config, the nodes told to run it (by the wave or their spec) that
// do not run it yet (by their Lease's confirmation or their status), and records who was told
// what.
func (v *view) evaluate(res *Result, budget int, e observation, oneBudget bool) {
	busy := map[string][]string{}
	empty := multipathconf.EmptyRef().Hash
	for name, st := range v.states {
		d := wave.Effective(v.wave, st)
		// It runs d when its Lease or its status says so, as the rollout controller reads it:
		// the agent writes the Lease first, but either write can fail alone (an API server
		// restart between them leaves the Lease behind the status).
		lease := health.LeaseApplied(v.leases[health.LeaseName(name)], st.UID)
		a := st.Status.AppliedConfig
		if d != nil && lease != nil && *lease == *d {
			a = lease
		}
		if d != nil {
			if res.Handed[name] == nil {
				res.Handed[name] = map[string]bool{}
			}
			res.Handed[name][d.Hash] = true
		}
		if d == nil || d.Hash == empty && !oneBudget || a != nil && a.Hash == d.Hash {
			continue
		}
		key := d.Hash
		if oneBudget {
			key = "any config"
		}
		busy[key] = append(busy[key], name)
	}
	for hash, nodes := range busy {
		slices.Sort(nodes)
		desc := fmt.Sprintf("at resourceVersion %d (%s), %v told to run %.16s and not running it", e.rv, e.kind, nodes, hash)
		for _, name := range nodes {
			st := v.states[name]
			desc += fmt.Sprintf("; %s: wave %v, spec %s, status %s, Lease %s (rv %s/%s)", name, v.wave.HasState(st), short(st.Spec.DesiredConfig),
				short(st.Status.AppliedConfig), short(health.LeaseApplied(v.leases[health.LeaseName(name)], st.UID)), st.ResourceVersion, rvOf(v.leases[health.LeaseName(name)]))
		}
		if len(nodes) > res.MaxBusy {
			res.MaxBusy, res.MaxBusyAt = len(nodes), desc
		}
		if budget > 0 && len(nodes) > budget {
			res.OverBudget = append(res.OverBudget, desc)
		}
	}
}

func short(ref *mpv1alpha1.RenderedConfigRef) string {
	if ref == nil {
		return "-"
	}
	return fmt.Sprintf("%.8s", ref.Hash)
}

func rvOf(l *coordinationv1.Lease) string {
	if l == nil {
		return "-"
	}
	return l.ResourceVersion
}
