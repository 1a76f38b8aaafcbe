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

package drills

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/internal/wave"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

func allowedCommands() []string { return multipathd.ClientCommands() }

// renderRegistry is every rendered ConfigMap the manager ever created, seen through a watch
// (a render can be pruned before anyone lists it): what a whole owned file may hold.
type renderRegistry struct {
	mu     sync.Mutex
	byHash map[string]*multipathconf.Rendered
	confs  map[[32]byte]string
	// bad are rendered ConfigMaps whose content does not verify against their hash.
	bad []string
}

// watchRenders starts the registry; it runs until ctx ends. It lists the rendered ConfigMaps
// and watches from the list's resourceVersion; a watch that ends (the API server restarted)
// resumes from the last version it delivered, a moment later, and only an expired version
// lists again. Not an informer: once its watch has failed a few times (the API server drill),
// client-go's backoff waits up to a minute before it watches again, and the next drills'
// samplers found the renders made meanwhile unknown.
func watchRenders(ctx context.Context, env *testenv.Env) (*renderRegistry, error) {
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, err
	}
	reg := &renderRegistry{byHash: map[string]*multipathconf.Rendered{}, confs: map[[32]byte]string{}}
	selector := []client.ListOption{client.InNamespace(sim.Namespace), client.MatchingLabels{render.RenderedLabel: "true"}}
	list := func() (string, error) {
		cms := &corev1.ConfigMapList{}
		if err := wc.List(ctx, cms, selector...); err != nil {
			return "", err
		}
		for i := range cms.Items {
			reg.add(&cms.Items[i])
		}
		return cms.ResourceVersion, nil
	}
	rv, err := list()
	if err != nil {
		return nil, err
	}
	go func() {
		retry := func() {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		for ctx.Err() == nil {
			if rv == "" {
				var err error
				if rv, err = list(); err != nil {
					retry()
					continue
				}
			}
			w, err := wc.Watch(ctx, &corev1.ConfigMapList{}, append(slices.Clone(selector), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})...)
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					rv = ""
				}
				retry()
				continue
			}
			for ev := range w.ResultChan() {
				switch o := ev.Object.(type) {
				case *corev1.ConfigMap:
					reg.add(o)
					rv = o.ResourceVersion
				case *metav1.Status: // an Error event: the version expired
					rv = ""
				}
			}
			w.Stop()
			retry()
		}
	}()
	return reg, nil
}

func (reg *renderRegistry) add(cm *corev1.ConfigMap) {
	hash := cm.Annotations[render.HashAnnotation]
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, ok := reg.byHash[hash]; ok {
		return
	}
	r, err := multipathconf.Unpack(cm.Data, cm.BinaryData, hash)
	if err != nil {
		reg.bad = append(reg.bad, fmt.Sprintf("%s: %v", cm.Name, err))
		return
	}
	reg.byHash[hash] = r
	conf, _ := r.File(multipathconf.BaselineFileName)
	reg.confs[sha256.Sum256([]byte(conf))] = hash
}

// knownConf reports whether conf is the baseline drop-in of a render.
func (reg *renderRegistry) knownConf(conf []byte) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	_, ok := reg.confs[sha256.Sum256(conf)]
	return ok
}

// knownEntries reports whether entries (a set) are exactly the foreign ones plus a render's.
func (reg *renderRegistry) knownEntries(entries, foreign map[string]bool) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, r := range reg.byHash {
		if sameEntries(entries, foreign, r.WWIDs) {
			return true
		}
	}
	return false
}

// sameEntries reports whether entries == foreign ∪ wwids.
func sameEntries(entries, foreign map[string]bool, wwids []string) bool {
	n := 0
	for _, w := range wwids {
		if !entries[w] {
			return false
		}
		if !foreign[w] {
			n++
		}
	}
	for w := range foreign {
		if !entries[w] {
			return false
		}
	}
	return len(entries) == n+len(foreign)
}

// sampler reads every node's files in a loop while a drill runs and records every observation
// that breaks the safety model (see checkFiles).
type sampler struct {
	d          *drill
	quit, done chan struct{}

	mu       sync.Mutex
	samples  int
	problems []string
	dropped  int
	// unverified are owned files not (yet) matched to a render: the registry's watch may be a
	// moment behind the agent that read the ConfigMap. They must match one by the end.
	unverified map[string]unverified
}

type unverified struct {
	node    *node
	conf    []byte
	entries map[string]bool
	at      time.Time
}

// startSampling starts the sampler.
func (d *drill) startSampling() *sampler {
	s := &sampler{d: d, quit: make(chan struct{}), done: make(chan struct{}), unverified: map[string]unverified{}}
	d.sampler = s
	interval := 20*time.Millisecond + time.Duration(len(d.nodes))*2*time.Millisecond
	go func() {
		defer close(s.done)
		for {
			for _, n := range d.nodes {
				for _, p := range s.check(n) {
					s.problem(p)
				}
			}
			s.mu.Lock()
			s.samples++
			s.mu.Unlock()
			select {
			case <-s.quit:
				return
			case <-time.After(interval):
			}
		}
	}()
	return s
}

func (s *sampler) problem(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped++
	if len(s.problems) < 20 {
		s.problems = append(s.problems, time.Now().Format("15:04:05.000")+" "+p)
	}
}

// count is the number of complete samples so far.
func (s *sampler) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// waitSamples waits until k more complete samples were taken: the fault lasted through them.
func (s *sampler) waitSamples(k int) {
	s.d.t.Helper()
	want := s.count() + k
	if err := poll(s.d.ctx, time.Minute, func() error {
		if got := s.count(); got < want {
			return fmt.Errorf("%d samples, want %d", got, want)
		}
		return nil
	}); err != nil {
		s.d.t.Fatalf("the sampler stalled: %v", err)
	}
}

// check reads n's files once and returns what breaks the safety model:
//
//   - a consumed LUN missing from etc/multipath/wwids or from the baseline drop-in;
//   - the host's /etc/multipath.conf or its drop-in changed; the wwids file not starting with
//     the lines the host had (foreign entries, header); a foreign WWID in the agent's ownership
//     record; a file in conf.d that is neither the host's nor the agent's (the agent's temp
//     files, ".<name><digits>", are allowed mid-write);
//   - an owned file that is not whole: the drop-in not the baseline of a render, the wwids
//     entries not the foreign ones plus a render's (checked again at the end when no render
//     known yet matches), a WWID listed twice.
func (s *sampler) check(n *node) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, n.Name+": "+fmt.Sprintf(format, args...)) }
	consumed := s.d.consumedWWIDs()

	conf, err := n.ReadFile(confPath)
	if err != nil {
		bad("reading %s: %v", confPath, err)
	}
	wwids, err := n.ReadFile(hostfs.WWIDsPath)
	if err != nil {
		bad("reading %s: %v", hostfs.WWIDsPath, err)
	}
	for _, w := range consumed {
		if conf != nil && !hasLUN(conf, w) {
			bad("consumed LUN %s dropped from %s", w, confPath)
		}
		if wwids != nil && !hasEntry(wwids, w) {
			bad("consumed LUN %s dropped from %s", w, hostfs.WWIDsPath)
		}
	}

	for rel, want := range map[string]string{hostConfPath: hostMultipathConf, hostDropInPath: hostDropIn} {
		if got, err := n.ReadFile(rel); err != nil || string(got) != want {
			bad("the host's %s was touched (%v): %q", rel, err, got)
		}
	}
	if wwids != nil && !bytes.HasPrefix(wwids, n.wwidsOrig) {
		bad("%s does not keep the host's lines (header, foreign entries) as they were: %q", hostfs.WWIDsPath, wwids)
	}
	if owned, err := n.ReadFile(hostfs.OwnedWWIDsPath); err == nil {
		for _, l := range strings.Split(string(owned), "\n") {
			if n.foreign[strings.TrimSpace(l)] {
				bad("the agent records the foreign WWID %s as its own", l)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		bad("reading %s: %v", hostfs.OwnedWWIDsPath, err)
	}
	if entries, err := os.ReadDir(filepath.Join(n.HostRoot, hostfs.ConfDir)); err == nil {
		for _, e := range entries {
			if !ownedOrHost(e.Name()) {
				bad("unexpected file %s in %s", e.Name(), hostfs.ConfDir)
			}
		}
	} else {
		bad("listing %s: %v", hostfs.ConfDir, err)
	}
	if _, err := os.Stat(filepath.Join(n.HostRoot, overridesPath)); !errors.Is(err, os.ErrNotExist) {
		bad("%s exists (%v), but no render has overrides", overridesPath, err)
	}

	if conf != nil && !sys.renders.knownConf(conf) {
		s.defer_("conf "+n.Name+string(conf), unverified{node: n, conf: conf, at: time.Now()})
	}
	if wwids != nil {
		list := hostfs.ParseWWIDs(wwids)
		set := map[string]bool{}
		for _, w := range list {
			if set[w] {
				bad("%s lists %s twice", hostfs.WWIDsPath, w)
			}
			set[w] = true
		}
		if !sys.renders.knownEntries(set, n.foreign) {
			key := slices.Sorted(maps.Keys(set))
			s.defer_("wwids "+n.Name+strings.Join(key, ","), unverified{node: n, entries: set, at: time.Now()})
		}
	}
	return out
}

// ownedOrHost reports whether a conf.d entry is the host's drop-in, one of the agent's two, or
// one of the agent's temp files mid-write.
func ownedOrHost(name string) bool {
	for _, f := range []string{hostDropInName, multipathconf.BaselineFileName, multipathconf.OverridesFileName} {
		if name == f || strings.HasPrefix(name, "."+f) {
			return true
		}
	}
	return false
}

func (s *sampler) defer_(key string, u unverified) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.unverified[key]; !ok {
		s.unverified[key] = u
	}
}

// stop stops the sampler.
func (s *sampler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.done
}

// finish stops the sampler and fails the drill for every problem it saw, and for owned files
// it saw that match no render even now.
func (s *sampler) finish() {
	t := s.d.t
	t.Helper()
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 {
		t.Errorf("the sampler took no sample")
	}
	_ = poll(s.d.ctx, 10*time.Second, func() error {
		for k, u := range s.unverified {
			if u.conf != nil && sys.renders.knownConf(u.conf) || u.entries != nil && sys.renders.knownEntries(u.entries, u.node.foreign) {
				delete(s.unverified, k)
			}
		}
		if len(s.unverified) > 0 {
			return errors.New("unverified files left")
		}
		return nil
	})
	for _, u := range s.unverified {
		if u.conf != nil {
			t.Errorf("%s: at %s, %s was not the baseline of any rendered config (partial or mixed file): %q",
				u.node.Name, u.at.Format("15:04:05.000"), confPath, u.conf)
		} else {
			t.Errorf("%s: at %s, the %s entries were not the foreign ones plus a rendered config's (partial or mixed file): %v",
				u.node.Name, u.at.Format("15:04:05.000"), hostfs.WWIDsPath, slices.Sorted(maps.Keys(u.entries)))
		}
	}
	for _, p := range s.problems {
		t.Errorf("sampled: %s", p)
	}
	if s.dropped > len(s.problems) {
		t.Errorf("sampled: and %d more problems", s.dropped-len(s.problems))
	}
	if bad := sys.renders.badRenders(); len(bad) > 0 {
		t.Errorf("rendered ConfigMaps that do not verify against their hash: %v", bad)
	}
	t.Logf("%d samples of %d nodes' files", s.samples, len(s.d.nodes))
}

func (reg *renderRegistry) badRenders() []string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return slices.Clone(reg.bad)
}

// clusterWatch follows the drill's MultipathNodeStates, the rollout wave, the agents' Leases
// and the MultipathConfig, for invariants that must hold at every moment. A node is told to
// run a config by the wave or by its spec, and runs one by its Lease's confirmation or its
// status: three kinds of object, each followed by a list and a watch of its own (not an
// informer: an informer's relist delivers objects one by one, mixing moments). Their events
// are kept with their resourceVersions (etcd revisions, one sequence for every kind) and
// replayed in that order, a relist replacing its kind's view at once: every view the budget is
// computed on is one the cluster really was in.
type clusterWatch struct {
	d      *drill
	cancel context.CancelFunc
	names  map[string]bool

	mu sync.Mutex
	// events are every observation so far, in arrival order (replay sorts them).
	events []observation
	// notReady are the observations of the MultipathConfig not Ready since the last reset.
	notReady []string
	// relists counts the lists after the first (a watch that ended).
	relists int
}

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

// startWatch starts following the cluster.
func (d *drill) startWatch() *clusterWatch {
	d.t.Helper()
	ctx, cancel := context.WithCancel(d.ctx)
	w := &clusterWatch{d: d, cancel: cancel, names: map[string]bool{}}
	d.watch = w
	for _, n := range d.nodes {
		w.names[n.Name] = true
	}
	wc, err := client.NewWithWatch(sys.env.Config, client.Options{Scheme: sys.env.Scheme})
	if err != nil {
		d.t.Fatal(err)
	}
	follows := []struct {
		kind string
		list func() client.ObjectList
		opts []client.ListOption
	}{
		{kindState, func() client.ObjectList { return &mpv1alpha1.MultipathNodeStateList{} }, nil},
		{kindWave, func() client.ObjectList { return &corev1.ConfigMapList{} }, []client.ListOption{client.InNamespace(sim.Namespace),
			client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", wave.Name)}}},
		{kindLease, func() client.ObjectList { return &coordinationv1.LeaseList{} }, []client.ListOption{client.InNamespace(sim.Namespace)}},
	}
	for _, f := range follows {
		synced := make(chan struct{})
		go w.follow(ctx, wc, f.kind, f.list, f.opts, synced)
		select {
		case <-synced:
		case <-time.After(time.Minute):
			d.t.Fatalf("the %s watch did not sync", f.kind)
		}
	}

	c, err := cache.New(sys.env.Config, cache.Options{Scheme: sys.env.Scheme})
	if err != nil {
		d.t.Fatal(err)
	}
	cfgInf, err := c.GetInformer(ctx, &mpv1alpha1.MultipathConfig{})
	if err != nil {
		d.t.Fatal(err)
	}
	onConfig := func(o any) {
		if cfg, ok := o.(*mpv1alpha1.MultipathConfig); ok {
			w.observeConfig(cfg)
		}
	}
	if _, err := cfgInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: onConfig, UpdateFunc: func(_, o any) { onConfig(o) }}); err != nil {
		d.t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		d.t.Fatal("the MultipathConfig watch did not sync")
	}
	w.resetReady()
	return w
}

// follow lists one kind, records the list, and watches from the list's resourceVersion; when
// the watch ends it starts over.
func (w *clusterWatch) follow(ctx context.Context, wc client.WithWatch, kind string, newList func() client.ObjectList, opts []client.ListOption, synced chan struct{}) {
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
		w.record(observation{rv: revision(list.GetResourceVersion()), kind: kind, list: true, items: items}, !first)
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
				w.record(observation{rv: revision(o.GetResourceVersion()), kind: kind, items: []client.Object{o}, deleted: ev.Type == watch.Deleted}, false)
			}
		}
		watcher.Stop()
	}
}

// revision is a resourceVersion as the etcd revision it is (the drills run their own API
// server; an opaque string elsewhere).
func revision(rv string) int64 {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return n
}

func (w *clusterWatch) record(o observation, relist bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if relist {
		w.relists++
	}
	w.events = append(w.events, o)
}

// clusterView is the cluster at one revision, as the replay rebuilds it.
type clusterView struct {
	states map[string]*mpv1alpha1.MultipathNodeState
	wave   *wave.Wave
	leases map[string]*coordinationv1.Lease
}

// replayResult is what the replay found.
type replayResult struct {
	// maxBusy is the most nodes seen at once told to run one config they do not run yet
	// (applying it, or failed to): what maxUnavailable bounds.
	maxBusy   int
	maxBusyAt string
	// handed lists, per node, every config it was ever told to run.
	handed map[string]map[string]bool
}

// replay rebuilds every view the cluster was in, in revision order, and evaluates each.
func (w *clusterWatch) replay() replayResult {
	w.mu.Lock()
	events := slices.Clone(w.events)
	w.mu.Unlock()
	// A list at revision r holds every write up to r: it goes after the events of r.
	slices.SortStableFunc(events, func(a, b observation) int {
		if a.rv != b.rv {
			return cmp.Compare(a.rv, b.rv)
		}
		if a.list != b.list {
			if a.list {
				return 1
			}
			return -1
		}
		return 0
	})
	v := clusterView{states: map[string]*mpv1alpha1.MultipathNodeState{}, leases: map[string]*coordinationv1.Lease{}}
	res := replayResult{handed: map[string]map[string]bool{}}
	for _, e := range events {
		switch e.kind {
		case kindState:
			if e.list {
				v.states = map[string]*mpv1alpha1.MultipathNodeState{}
			}
			for _, o := range e.items {
				st := o.(*mpv1alpha1.MultipathNodeState)
				if !w.names[st.Name] {
					continue
				}
				if e.deleted {
					delete(v.states, st.Name)
				} else {
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
		v.evaluate(&res)
	}
	return res
}

// evaluate counts, for each config, the nodes told to run it (by the wave or their spec) that
// do not run it yet (by their Lease's confirmation or their status), and records who was told
// what.
func (v *clusterView) evaluate(res *replayResult) {
	busy := map[string][]string{}
	empty := multipathconf.EmptyRef().Hash
	for name, st := range v.states {
		d := wave.Effective(v.wave, name, st.Spec.DesiredConfig)
		a := health.LeaseApplied(v.leases[health.LeaseName(name)], st.UID)
		if a == nil {
			a = st.Status.AppliedConfig
		}
		if d != nil {
			if res.handed[name] == nil {
				res.handed[name] = map[string]bool{}
			}
			res.handed[name][d.Hash] = true
		}
		if d == nil || d.Hash == empty || a != nil && a.Hash == d.Hash {
			continue
		}
		busy[d.Hash] = append(busy[d.Hash], name)
	}
	for hash, nodes := range busy {
		if len(nodes) > res.maxBusy {
			slices.Sort(nodes)
			res.maxBusy, res.maxBusyAt = len(nodes), fmt.Sprintf("%v told to run %.16s and not running it", nodes, hash)
		}
	}
}

func (w *clusterWatch) observeConfig(cfg *mpv1alpha1.MultipathConfig) {
	c := meta.FindStatusCondition(cfg.Status.Conditions, mpv1alpha1.ReadyCondition)
	if c != nil && c.Status == metav1.ConditionTrue {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	desc := "no Ready condition"
	if c != nil {
		desc = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	w.notReady = append(w.notReady, time.Now().Format("15:04:05.000")+" "+desc)
}

// resetReady forgets the MultipathConfig's earlier observations.
func (w *clusterWatch) resetReady() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notReady = nil
}

// notReadySince returns the observations of the MultipathConfig not Ready since the reset.
func (w *clusterWatch) notReadySince() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.notReady)
}

// wasHanded reports whether node was ever told to run hash.
func (w *clusterWatch) wasHanded(node, hash string) bool {
	return w.replay().handed[node][hash]
}

// checkBudget fails the drill when more than maxUnavailable nodes were ever seen applying (or
// failed on) one config at once.
func (w *clusterWatch) checkBudget() {
	w.d.t.Helper()
	res := w.replay()
	w.mu.Lock()
	relists, events := w.relists, len(w.events)
	w.mu.Unlock()
	if res.maxBusy > w.d.maxUnavailable {
		w.d.t.Errorf("the rollout exceeded maxUnavailable %d: %s", w.d.maxUnavailable, res.maxBusyAt)
	}
	w.d.t.Logf("at most %d nodes applying one config at once (maxUnavailable %d; %d events replayed, %d relists)", res.maxBusy, w.d.maxUnavailable, events, relists)
}

func (w *clusterWatch) stop() { w.cancel() }
