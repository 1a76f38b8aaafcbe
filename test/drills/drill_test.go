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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/wave"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// drillLabel selects a drill's nodes: the MultipathConfig's node selector names the running
// drill, so the nodes of an earlier drill are never part of the next one.
const drillLabel = "drills.kube-multipath.io/drill"

// nodesEnv overrides the number of nodes of every drill (the long variants).
const nodesEnv = "KUBE_MULTIPATH_DRILL_NODES"

// Host files the operator does not own, on every node.
const (
	hostMultipathConf = "# The host's own /etc/multipath.conf: kube-multipath never writes it.\n" +
		"defaults {\n\tpolling_interval 10\n}\n"
	hostDropInName = "50-host.conf"
	hostDropIn     = "# A host drop-in, not kube-multipath's.\n" +
		"devices {\n\tdevice {\n\t\tvendor \"HOSTVEND\"\n\t\tproduct \"HOSTPROD\"\n\t\tno_path_retry \"fail\"\n\t}\n}\n"
)

var (
	confPath       = filepath.Join(hostfs.ConfDir, multipathconf.BaselineFileName)
	overridesPath  = filepath.Join(hostfs.ConfDir, multipathconf.OverridesFileName)
	hostDropInPath = filepath.Join(hostfs.ConfDir, hostDropInName)
	hostConfPath   = "etc/multipath.conf"
)

var drillSeq atomic.Int32

// options shape a drill's cluster.
type options struct {
	// nodes is the node count; KUBE_MULTIPATH_DRILL_NODES overrides it.
	nodes int
	// luns LUNs exist at the start; the first consumed of them are used by a PersistentVolume.
	luns, consumed int
	// preListed is the drill-relative index of a LUN whose WWID the even nodes list in
	// /etc/multipath/wwids by hand before their agent starts (so it is not the agent's to
	// remove); -1 for none.
	preListed int
}

// drill is one drill's cluster: its nodes, LUNs and volumes.
type drill struct {
	t    *testing.T
	ctx  context.Context
	name string
	seq  int
	dir  string

	nodes []*node
	// maxUnavailable is the rollout budget in nodes while the fault runs.
	maxUnavailable int

	mu sync.Mutex
	// luns are the LUN indices that exist, consumed those a PersistentVolume uses.
	luns, consumed map[int]bool
	next           int
	// first is the index of the drill's first LUN.
	first     int
	preListed string
	sampler   *sampler
	watch     *clusterWatch
}

// node is a simulated node with the foreign files it started with.
type node struct {
	*sim.Node
	k int
	// wwidsOrig is the wwids file the host had before the agent came; foreign its entries.
	wwidsOrig []byte
	foreign   map[string]bool
	bootWWID  string

	mu sync.Mutex
	// gone: the Node object is deleted; the node is out of the convergence checks (its files
	// are still sampled).
	gone bool
	// broken: its multipathd misbehaves; the maps it serves are left alone.
	broken bool
	// proc is the agent when it runs as a process.
	proc *agentProc
}

func (n *node) isGone() bool   { n.mu.Lock(); defer n.mu.Unlock(); return n.gone }
func (n *node) isBroken() bool { n.mu.Lock(); defer n.mu.Unlock(); return n.broken }

// nodeCount is def, or KUBE_MULTIPATH_DRILL_NODES when set.
func nodeCount(t *testing.T, def int) int {
	v := os.Getenv(nodesEnv)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		t.Fatalf("%s=%q: want a number of nodes of at least 2", nodesEnv, v)
	}
	return n
}

// scaled is d for a handful of nodes, longer for the long variants.
func (d *drill) scaled(base time.Duration) time.Duration {
	return base + time.Duration(len(d.nodes))*time.Second
}

// newDrill brings up a drill's cluster and waits until it converged: the MultipathConfig
// selects only this drill's nodes (rolled out to all at once for the setup), the LUNs and
// volumes exist, every node runs the render. The cleanup tears it all down.
func newDrill(t *testing.T, name string, o options) *drill {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	seq := int(drillSeq.Add(1))
	d := &drill{
		t: t, ctx: ctx, name: name, seq: seq, dir: filepath.Join(sys.dir, "nodes-"+name),
		luns: map[int]bool{}, consumed: map[int]bool{}, next: seq * 1000, maxUnavailable: 1,
	}
	t.Cleanup(func() {
		d.cleanup()
		cancel()
	})
	start := time.Now()
	if err := sys.ensureDefaultManager(ctx); err != nil {
		t.Fatal(err)
	}
	n := nodeCount(t, o.nodes)
	first := d.addLUNs(o.luns)
	d.first = first
	for i := range o.consumed {
		d.consumed[first+i] = true
	}
	if o.preListed >= 0 {
		d.preListed = sim.WWID(first + o.preListed)
	}

	// The MultipathConfig selects this drill's nodes only; the setup rolls out to all at once.
	d.setConfig(func(spec *mpv1alpha1.MultipathConfigSpec) {
		*spec = sim.ClusterConfig("100%").Spec
		spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{drillLabel: name}}
	})
	if err := sim.CreateAll(ctx, sys.c, d.lunObjects(first, o.luns), 8); err != nil {
		t.Fatal(err)
	}
	if err := sim.CreateAll(ctx, sys.c, sim.PVs(first, o.consumed), 8); err != nil {
		t.Fatal(err)
	}

	d.nodes = make([]*node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for k := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d.nodes[k], errs[k] = d.newNode(k)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	d.converge()
	d.maxUnavailable = n // "100%" until the drill sets it
	t.Logf("%s: %d nodes, %d LUNs (%d consumed) converged in %s", name, n, o.luns, o.consumed, time.Since(start).Round(time.Millisecond))
	return d
}

// newNode creates node k with its foreign files and starts its agent.
func (d *drill) newNode(k int) (*node, error) {
	name := fmt.Sprintf("%s-%03d", d.name, k)
	sn, err := sim.NewNode(d.ctx, sys.c, sys.env.Config, name, sim.NodeOptions{
		Dir: d.dir, RefreshInterval: refresh, Labels: map[string]string{drillLabel: d.name},
	})
	if err != nil {
		return nil, err
	}
	n := &node{Node: sn, k: k, bootWWID: fmt.Sprintf("3600508b1001c%04x%08x", d.seq, k)}
	n.wwidsOrig = []byte(hostfs.WWIDsHeader + "/" + n.bootWWID + "/\n")
	if d.preListed != "" && k%2 == 0 {
		n.wwidsOrig = append(n.wwidsOrig, "/"+d.preListed+"/\n"...)
	}
	n.foreign = map[string]bool{}
	for _, w := range hostfs.ParseWWIDs(n.wwidsOrig) {
		n.foreign[w] = true
	}
	for rel, content := range map[string][]byte{
		hostConfPath: []byte(hostMultipathConf), hostDropInPath: []byte(hostDropIn), hostfs.WWIDsPath: n.wwidsOrig,
	} {
		if err := os.WriteFile(filepath.Join(n.HostRoot, rel), content, 0o644); err != nil {
			return nil, err
		}
	}
	d.serve(n)
	return n, n.StartAgent(d.ctx)
}

// serve makes n's fake multipathd serve a healthy map for every LUN of the drill and the
// host's boot LUN (unless its daemon is broken on purpose).
func (d *drill) serve(n *node) {
	if n.isBroken() {
		return
	}
	d.mu.Lock()
	served := []multipathdtest.Map{multipathdtest.HealthyMap(n.bootWWID, "", 2)}
	for _, i := range slices.Sorted(maps.Keys(d.luns)) {
		served = append(served, multipathdtest.HealthyMap(sim.WWID(i), sim.Alias(i), 2))
	}
	d.mu.Unlock()
	n.SetMaps(served)
}

// addLUNs reserves n new LUN indices (expected in the render from now on) and has every node
// serve their maps; it returns the first. The caller creates the objects.
func (d *drill) addLUNs(n int) int {
	d.mu.Lock()
	first := d.next
	for i := first; i < first+n; i++ {
		d.luns[i] = true
	}
	d.next += n
	d.mu.Unlock()
	for _, nd := range d.nodes {
		if nd != nil {
			d.serve(nd)
		}
	}
	return first
}

func (d *drill) lunObjects(first, n int) []*mpv1alpha1.MultipathWWID { return sim.LUNs(first, n) }

// createLUN adds one LUN to the cluster and returns its index.
func (d *drill) createLUN() int {
	d.t.Helper()
	i := d.addLUNs(1)
	if err := sys.c.Create(d.ctx, sim.LUN(i)); err != nil {
		d.t.Fatalf("creating LUN %s: %v", sim.Alias(i), err)
	}
	return i
}

// forgetLUN drops a LUN from the expected render (it was deleted).
func (d *drill) forgetLUN(i int) {
	d.mu.Lock()
	delete(d.luns, i)
	delete(d.consumed, i)
	d.mu.Unlock()
}

// release drops a LUN from the protected set: its volume is about to go.
func (d *drill) release(i int) {
	d.mu.Lock()
	delete(d.consumed, i)
	d.mu.Unlock()
}

// consumedWWIDs are the WWIDs no node may lose now.
func (d *drill) consumedWWIDs() []string { return d.wwidsOf(d.consumed) }

// expectedWWIDs are the WWIDs the current render must hold.
func (d *drill) expectedWWIDs() []string { return d.wwidsOf(d.luns) }

// wwidsOf is the sorted WWIDs of a set of LUN indices that d.mu guards.
func (d *drill) wwidsOf(set map[int]bool) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(set))
	for i := range set {
		out = append(out, sim.WWID(i))
	}
	slices.Sort(out)
	return out
}

// liveNodes are the nodes whose Node object exists.
func (d *drill) liveNodes() []*node {
	var out []*node
	for _, n := range d.nodes {
		if !n.isGone() {
			out = append(out, n)
		}
	}
	return out
}

// setConfig changes the MultipathConfig's spec (creating it when missing), retrying conflicts.
func (d *drill) setConfig(mutate func(*mpv1alpha1.MultipathConfigSpec)) {
	d.t.Helper()
	err := poll(d.ctx, 30*time.Second, func() error {
		cfg := &mpv1alpha1.MultipathConfig{}
		err := sys.c.Get(d.ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg)
		if apierrors.IsNotFound(err) {
			cfg = &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
			mutate(&cfg.Spec)
			return sys.c.Create(d.ctx, cfg)
		}
		if err != nil {
			return err
		}
		mutate(&cfg.Spec)
		return sys.c.Update(d.ctx, cfg)
	})
	if err != nil {
		d.t.Fatalf("setting the MultipathConfig: %v", err)
	}
}

// setMaxUnavailable sets the rollout budget to n nodes.
func (d *drill) setMaxUnavailable(n int) {
	d.t.Helper()
	d.maxUnavailable = n
	d.setConfig(func(spec *mpv1alpha1.MultipathConfigSpec) {
		spec.Rollout.MaxUnavailable = ptr.To(intstr.FromInt32(int32(n)))
	})
}

// config reads the MultipathConfig.
func (d *drill) config() (*mpv1alpha1.MultipathConfig, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	return cfg, sys.c.Get(d.ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg)
}

// renderedAfter waits until the MultipathConfig's render is not the one of hash old and holds
// exactly the expected LUNs, and returns it.
func (d *drill) renderedAfter(old string, timeout time.Duration) *multipathconf.Rendered {
	d.t.Helper()
	var r *multipathconf.Rendered
	err := poll(d.ctx, timeout, func() error {
		var err error
		if r, err = d.currentRender(); err != nil {
			return err
		}
		if r.Hash == old {
			return fmt.Errorf("still the render %s", r.ConfigMapName())
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("no render of the expected LUNs within %s: %v", timeout, err)
	}
	return r
}

// currentRender returns the MultipathConfig's current render, checking that it holds exactly
// the expected LUNs and is the ConfigMap's verified content.
func (d *drill) currentRender() (*multipathconf.Rendered, error) {
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	rc := cfg.Status.RenderedConfig
	if rc == nil {
		return nil, errors.New("no status.renderedConfig yet")
	}
	r, err := readRender(d.ctx, rc.Name, rc.Hash)
	if err != nil {
		return nil, err
	}
	if want := d.expectedWWIDs(); !slices.Equal(r.WWIDs, want) {
		return nil, fmt.Errorf("render %s holds %d LUNs, want %d (%s)", rc.Name, len(r.WWIDs), len(want), diffSets(r.WWIDs, want))
	}
	return r, nil
}

// readRender reads and verifies a rendered ConfigMap.
func readRender(ctx context.Context, name, hash string) (*multipathconf.Rendered, error) {
	cm := &corev1.ConfigMap{}
	if err := sys.c.Get(ctx, client.ObjectKey{Namespace: sim.Namespace, Name: name}, cm); err != nil {
		return nil, err
	}
	return multipathconf.Unpack(cm.Data, cm.BinaryData, hash)
}

// diffSets describes how got differs from want.
func diffSets(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("missing %v, unexpected %v", missing, extra)
}

// converge waits until the system converged (see convergedOn) and returns the hash.
func (d *drill) converge() string {
	d.t.Helper()
	timeout := d.scaled(90 * time.Second)
	var hash string
	err := poll(d.ctx, timeout, func() error {
		var err error
		hash, err = d.convergedOn()
		return err
	})
	if err != nil {
		d.t.Fatalf("the system did not converge within %s: %v", timeout, err)
	}
	return hash
}

// convergedOn reports whether the system converged, and on which render: the MultipathConfig's
// render holds exactly the drill's LUNs; it is Ready and kstatus Current, every selected node
// updated and none failed; every live node's MultipathNodeState wants and reports that render,
// Ready and not Degraded; and every live node's files hold it exactly.
func (d *drill) convergedOn() (string, error) {
	cfg, err := d.config()
	if err != nil {
		return "", err
	}
	r, err := d.currentRender()
	if err != nil {
		return "", err
	}
	if err := current(cfg); err != nil {
		return "", fmt.Errorf("MultipathConfig: %w", err)
	}
	if ready := meta.FindStatusCondition(cfg.Status.Conditions, mpv1alpha1.ReadyCondition); ready == nil || ready.Status != metav1.ConditionTrue {
		return "", fmt.Errorf("MultipathConfig is not Ready: %+v", ready)
	}
	live := d.liveNodes()
	if nc := cfg.Status.Nodes; int(nc.Selected) != len(live) || int(nc.Updated) != len(live) || nc.Failed != 0 {
		return "", fmt.Errorf("MultipathConfig counts %+v, want %d selected and updated, none failed", nc, len(live))
	}
	for _, n := range live {
		st := &mpv1alpha1.MultipathNodeState{}
		if err := sys.c.Get(d.ctx, client.ObjectKey{Name: n.Name}, st); err != nil {
			return "", err
		}
		if d := st.Spec.DesiredConfig; d == nil || d.Hash != r.Hash {
			return "", fmt.Errorf("%s is told to run %v, want %s", n.Name, d, r.ConfigMapName())
		}
		if a := st.Status.AppliedConfig; a == nil || a.Hash != r.Hash {
			return "", fmt.Errorf("%s reports it runs %v, want %s", n.Name, a, r.ConfigMapName())
		}
		if c := meta.FindStatusCondition(st.Status.Conditions, mpv1alpha1.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue {
			return "", fmt.Errorf("%s is not Ready: %+v", n.Name, c)
		}
		if meta.IsStatusConditionTrue(st.Status.Conditions, mpv1alpha1.DegradedCondition) {
			return "", fmt.Errorf("%s is Degraded", n.Name)
		}
		if err := n.runs(r); err != nil {
			return "", err
		}
	}
	return r.Hash, nil
}

// current checks kstatus: the object is Current (observed its generation, neither reconciling
// nor stalled).
func current(obj client.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	res, err := kstatus.Compute(&unstructured.Unstructured{Object: m})
	if err != nil {
		return err
	}
	if res.Status != kstatus.CurrentStatus {
		return fmt.Errorf("kstatus %s: %s", res.Status, res.Message)
	}
	return nil
}

// runs checks that n's files hold r exactly: the drop-in byte for byte, no overrides drop-in
// (the drills set none), the wwids entries the foreign ones plus r's, the applied record r,
// and no pending marker.
func (n *node) runs(r *multipathconf.Rendered) error {
	want, _ := r.File(multipathconf.BaselineFileName)
	conf, err := n.ReadFile(confPath)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if string(conf) != want {
		return fmt.Errorf("%s: %s is not the baseline of %s", n.Name, confPath, r.ConfigMapName())
	}
	if _, err := os.Stat(filepath.Join(n.HostRoot, overridesPath)); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %s exists (%v), but no render has overrides", n.Name, overridesPath, err)
	}
	wwids, err := n.ReadFile(hostfs.WWIDsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if got, want := entrySet(wwids), n.withForeign(r.WWIDs); !slices.Equal(got, want) {
		return fmt.Errorf("%s: wwids entries are not the foreign ones plus %s's: %s", n.Name, r.ConfigMapName(), diffSets(got, want))
	}
	applied, err := n.ReadFile(hostfs.AppliedPath)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	var rec hostfs.AppliedConfig
	if err := json.Unmarshal(applied, &rec); err != nil || rec.Hash != r.Hash {
		return fmt.Errorf("%s: the applied record is %q, want %s", n.Name, applied, r.Hash)
	}
	if _, err := os.Stat(filepath.Join(n.HostRoot, hostfs.PendingPath)); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: a pending marker is left (%v)", n.Name, err)
	}
	return nil
}

// withForeign is wwids plus the node's foreign entries, sorted, without duplicates.
func (n *node) withForeign(wwids []string) []string {
	out := slices.Clone(wwids)
	for w := range n.foreign {
		out = append(out, w)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// entrySet is the sorted, deduplicated WWIDs of a wwids file.
func entrySet(content []byte) []string {
	out := hostfs.ParseWWIDs(content)
	slices.Sort(out)
	return slices.Compact(out)
}

// hasEntry reports whether the wwids file lists w.
func hasEntry(content []byte, w string) bool {
	return slices.Contains(hostfs.ParseWWIDs(content), w)
}

// hasLUN reports whether a baseline drop-in names w in a multipath section.
func hasLUN(conf []byte, w string) bool {
	return strings.Contains(string(conf), "\t\twwid \""+w+"\"\n")
}

// state reads n's MultipathNodeState.
func (d *drill) state(n *node) (*mpv1alpha1.MultipathNodeState, error) {
	st := &mpv1alpha1.MultipathNodeState{}
	return st, sys.c.Get(d.ctx, client.ObjectKey{Name: n.Name}, st)
}

// told is the config st's node is told to run: the rollout wave's when the wave names the node,
// else its spec (internal/wave).
func (d *drill) told(st *mpv1alpha1.MultipathNodeState) (*mpv1alpha1.RenderedConfigRef, error) {
	w, err := sim.ReadWave(d.ctx, sys.c, sim.Namespace)
	if err != nil {
		return nil, err
	}
	return wave.Effective(w, st), nil
}

// checkDaemons asserts that every fake multipathd received only allow-listed commands, each in
// its one spelling, and no malformed request.
func (d *drill) checkDaemons() {
	d.t.Helper()
	allowed := map[string]bool{}
	for _, c := range allowedCommands() {
		allowed[c] = true
	}
	total := 0
	for _, n := range d.nodes {
		for _, c := range n.Daemon.Commands() {
			total++
			if !allowed[c] {
				d.t.Errorf("%s: multipathd received %q, which is not on the allow-list", n.Name, c)
			}
		}
		if v := n.Daemon.Violations(); len(v) > 0 {
			d.t.Errorf("%s: multipathd saw malformed requests: %q", n.Name, v)
		}
	}
	if total == 0 {
		d.t.Errorf("no multipathd received any command: the daemons were not exercised")
	}
}

// cleanup stops the drill's agents and removes its nodes, volumes and LUNs, so the next drill
// starts from a clean cluster.
func (d *drill) cleanup() {
	t := d.t
	ctx := context.Background()
	if d.sampler != nil {
		d.sampler.stop()
	}
	if d.watch != nil {
		d.watch.stop()
	}
	var wg sync.WaitGroup
	for _, n := range d.nodes {
		if n == nil {
			continue
		}
		wg.Go(func() {
			n.mu.Lock()
			p := n.proc
			n.proc = nil
			n.mu.Unlock()
			if p != nil {
				_ = p.kill()
			}
			if err := n.Close(); err != nil {
				t.Logf("closing %s: %v", n.Name, err)
			}
		})
	}
	wg.Wait()
	if err := sys.ensureDefaultManager(ctx); err != nil {
		t.Errorf("cleanup: restarting the manager: %v", err)
	}
	for _, n := range d.nodes {
		if n == nil {
			continue
		}
		if err := sys.c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting Node %s: %v", n.Name, err)
		}
	}
	// Volumes first (envtest runs no pv-protection controller: their finalizer is ours to drop),
	// then the LUNs they protected, forced.
	pvs := &corev1.PersistentVolumeList{}
	if err := sys.c.List(ctx, pvs); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for i := range pvs.Items {
		removePV(ctx, &pvs.Items[i])
	}
	luns := &mpv1alpha1.MultipathWWIDList{}
	if err := sys.c.List(ctx, luns); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for i := range luns.Items {
		w := &luns.Items[i]
		before := w.DeepCopy()
		metav1.SetMetaDataAnnotation(&w.ObjectMeta, mpv1alpha1.ForceRemoveAnnotation, "true")
		_ = sys.c.Patch(ctx, w, client.MergeFrom(before))
		if err := sys.c.Delete(ctx, w); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: deleting %s: %v", w.Name, err)
		}
	}
	err := poll(ctx, time.Minute, func() error {
		var left []string
		luns := &mpv1alpha1.MultipathWWIDList{}
		if err := sys.c.List(ctx, luns); err != nil {
			return err
		}
		for _, w := range luns.Items {
			left = append(left, w.Name)
		}
		pvs := &corev1.PersistentVolumeList{}
		if err := sys.c.List(ctx, pvs); err != nil {
			return err
		}
		for i := range pvs.Items {
			removePV(ctx, &pvs.Items[i])
			left = append(left, pvs.Items[i].Name)
		}
		for _, n := range d.nodes {
			if n == nil {
				continue
			}
			if err := sys.c.Get(ctx, client.ObjectKey{Name: n.Name}, &mpv1alpha1.MultipathNodeState{}); !apierrors.IsNotFound(err) {
				left = append(left, "MultipathNodeState "+n.Name)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %v", left)
		}
		return nil
	})
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if !t.Failed() {
		_ = os.RemoveAll(d.dir)
	}
}

// removePV deletes a PersistentVolume and drops its finalizers, as the pv-protection controller
// does once no pod uses it.
func removePV(ctx context.Context, pv *corev1.PersistentVolume) {
	_ = sys.c.Delete(ctx, pv)
	cur := &corev1.PersistentVolume{}
	if err := sys.c.Get(ctx, client.ObjectKeyFromObject(pv), cur); err == nil && len(cur.Finalizers) > 0 {
		before := cur.DeepCopy()
		cur.Finalizers = nil
		_ = sys.c.Patch(ctx, cur, client.MergeFrom(before))
	}
}

// agentProc is a node's agent running as its own process (the binary), so it can be SIGKILLed.
type agentProc struct {
	cmd  *exec.Cmd
	done chan error
}

// startAgentProcess replaces n's in-process agent with the agent binary, with the same options.
func (d *drill) startAgentProcess(n *node) error {
	if err := n.StopAgent(); err != nil {
		return err
	}
	o := n.AgentOptions()
	cmd := exec.Command(sys.agentBin, "--node-name="+o.NodeName, "--host-root="+o.HostRoot, "--namespace="+o.Namespace,
		"--multipathd-socket="+o.MultipathdSocket, "--refresh-interval="+o.RefreshInterval.String(),
		"--validate=false", "--settle-delay=0s", "--post-check-timeout="+o.PostCheckTimeout.String(),
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--uevents=false", "--watch-files=false")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+sys.kubeconfig)
	log, err := os.OpenFile(filepath.Join(sys.dir, "agent-"+n.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return err
	}
	p := &agentProc{cmd: cmd, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		_ = log.Close()
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	return nil
}

// kill SIGKILLs the agent process and waits for it.
func (p *agentProc) kill() error {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the agent process did not die within 30s of SIGKILL")
	}
}
