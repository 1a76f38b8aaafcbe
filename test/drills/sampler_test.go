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
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/render"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/internal/testing/rolloutview"
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

// clusterWatch follows the drill's rollout (package rolloutview: the MultipathNodeStates, the
// rollout wave and the agents' Leases, replayed in etcd revision order) and the
// MultipathConfig, for invariants that must hold at every moment.
type clusterWatch struct {
	d       *drill
	cancel  context.CancelFunc
	rollout *rolloutview.Follower

	mu sync.Mutex
	// notReady are the observations of the MultipathConfig not Ready since the last reset.
	notReady []string
}

// startWatch starts following the cluster.
func (d *drill) startWatch() *clusterWatch {
	d.t.Helper()
	ctx, cancel := context.WithCancel(d.ctx)
	w := &clusterWatch{d: d, cancel: cancel}
	d.watch = w
	var names []string
	for _, n := range d.nodes {
		names = append(names, n.Name)
	}
	var err error
	if w.rollout, err = rolloutview.Start(ctx, sys.env.Config, sys.env.Scheme, sim.Namespace, names); err != nil {
		d.t.Fatal(err)
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
	return w.rollout.Replay(0).Handed[node][hash]
}

// checkBudget fails the drill when more than maxUnavailable nodes were ever seen applying (or
// failed on) one config at once.
func (w *clusterWatch) checkBudget() {
	w.d.t.Helper()
	res := w.rollout.Replay(w.d.maxUnavailable)
	if res.MaxBusy > w.d.maxUnavailable {
		w.d.t.Errorf("the rollout exceeded maxUnavailable %d: %s", w.d.maxUnavailable, res.MaxBusyAt)
	}
	w.d.t.Logf("at most %d nodes applying one config at once (maxUnavailable %d; %d events replayed, %d relists, %d views in watch gaps not evaluated)", res.MaxBusy, w.d.maxUnavailable, res.Events, res.Relists, res.Skipped)
}

func (w *clusterWatch) stop() { w.cancel() }
