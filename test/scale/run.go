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

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// results is what a run measured; the JSON the harness writes.
type results struct {
	Machine  string    `json:"machine"`
	Started  time.Time `json:"started"`
	Config   config    `json:"config"`
	Burst    *burst    `json:"burst,omitempty"`
	Setup    *setup    `json:"setup,omitempty"`
	Sizes    []size    `json:"sizes"`
	Memory   *memory   `json:"memory,omitempty"`
	Duration string    `json:"duration"`
}

type burst struct {
	Creations       int     `json:"creations"`
	Renders         float64 `json:"renders"`
	ConfigMapWrites float64 `json:"configMapWrites"`
	Seconds         float64 `json:"secondsToRendered"`
}

type setup struct {
	LUNs        int     `json:"luns"`
	PVs         int     `json:"pvs"`
	CreateSecs  float64 `json:"createSeconds"`
	RenderSecs  float64 `json:"renderedSeconds"`
	RenderBytes int64   `json:"renderedBytes"`
	// SettledSecs is when the manager stopped writing (every LUN's status, finalizer and health).
	SettledSecs float64 `json:"settledSeconds"`
}

// size is everything measured with a given number of nodes.
type size struct {
	Nodes int `json:"nodes"`
	// JoinSeconds is how long the new nodes took from agent start to applying the config.
	JoinSeconds float64 `json:"joinSeconds"`
	// SettledSeconds is from agent start until the manager stopped writing health.
	SettledSeconds float64 `json:"settledSeconds"`
	// Apply is `kubectl apply` of one MultipathWWID -> each node runs the new config, as the
	// rollout counts it: the agent's confirmation on its Lease (or its report, whichever the
	// harness saw first).
	Apply sim.Latencies `json:"apply"`
	// Reported is apply -> each node's MultipathNodeState status names the new config (the
	// map report, written after the confirmation).
	Reported sim.Latencies `json:"reported"`
	// Its stages: RenderedMs is apply -> the MultipathConfig status names the new render (polled
	// every 20 ms); Handout is apply -> each node's MultipathNodeState names it.
	RenderedMs float64 `json:"renderedMs"`
	// CreatedMs is the create request itself (admission, the webhook included).
	CreatedMs float64 `json:"createdMs"`
	// Reconfigured is apply -> each node's multipathd received `reconfigure` (the files are
	// written; what is left is the post-check and the report). It is one way, as the floor is.
	Reconfigured sim.Latencies `json:"reconfigured"`
	// RatioReconfiguredP50 and RatioReconfiguredMax are Reconfigured over Floor.
	RatioReconfiguredP50 float64       `json:"ratioReconfiguredP50"`
	RatioReconfiguredMax float64       `json:"ratioReconfiguredMax"`
	Handout              sim.Latencies `json:"handout"`
	// ApplyCPU is the CPU seconds each process used from apply until every node applied, and
	// ApplyWall that wall time: their sum near ApplyWall x CPUs means the machine was the limit.
	ApplyCPU  map[string]float64 `json:"applyCPUSeconds"`
	ApplyWall float64            `json:"applyWallSeconds"`
	// ApplyRequests is what kube-apiserver served from apply until every node applied, by
	// "verb resource[/subresource]" (its apiserver_request_total): where the API time went.
	ApplyRequests map[string]float64 `json:"applyRequests"`
	// SteadyCPU is each process's CPU seconds per minute in the steady state.
	SteadyCPU map[string]float64 `json:"steadyCPUSecondsPerMinute"`
	// Floor is one ConfigMap update -> each of N plain client-go watchers sees it; the
	// ConfigMap carries PayloadBytes, the current rendered ConfigMap's data.
	Floor        sim.Latencies `json:"floor"`
	PayloadBytes int           `json:"payloadBytes"`
	// FloorConfirmed is the floor plus one confirmation per node: each watcher, on seeing the
	// update, applies its own Lease, and the time is when one watch of the Leases sees it (as
	// the rollout counts a node). RatioConfirmedP99 is Apply's p99 over its p99.
	FloorConfirmed sim.Latencies `json:"floorConfirmed"`
	// FloorConfirmedCPU and FloorConfirmedWall are ApplyCPU and ApplyWall for it, from its
	// update to the last confirmation seen: on a saturated machine, the CPU is the comparison.
	FloorConfirmedCPU  map[string]float64 `json:"floorConfirmedCPUSeconds"`
	FloorConfirmedWall float64            `json:"floorConfirmedWallSeconds"`
	RatioConfirmedP99  float64            `json:"ratioConfirmedP99"`
	// RatioP50, RatioP99 and RatioMax are Apply over Floor.
	RatioP50 float64 `json:"ratioP50"`
	RatioP99 float64 `json:"ratioP99"`
	RatioMax float64 `json:"ratioMax"`
	// Steady is the mean requests per node per minute, by "verb resource", counted at the agents.
	Steady map[string]float64 `json:"steadyPerNodePerMinute"`
	// ManagerSteady is the manager's requests per minute by method (its client's own metric).
	ManagerSteady map[string]float64 `json:"managerSteadyPerMinute"`
	// PathFailureMs is a path failing on one node -> its MultipathWWID status shows degraded.
	PathFailureMs float64 `json:"pathFailureMs"`
	// PathRecoveryMs is the path coming back -> the status shows optimal again.
	PathRecoveryMs float64 `json:"pathRecoveryMs"`
}

type memory struct {
	Nodes int `json:"nodes"`
	// AgentNodes of them run an agent; the others report without one (-memory-nodes).
	AgentNodes     int     `json:"agentNodes"`
	LUNs           int     `json:"luns"`
	PVs            int     `json:"pvs"`
	ManagerRSSMiB  float64 `json:"managerRSSMiB"`
	ManagerPeakMiB float64 `json:"managerPeakMiB"`
	// ManagerRSSSamplesMiB are ManagerRSSMiB and thirty readings a second apart after it.
	ManagerRSSSamplesMiB []float64 `json:"managerRSSSamplesMiB"`
	// ManagerHeapMiB is the Go heap in use (live objects and not yet collected garbage).
	ManagerHeapMiB float64 `json:"managerHeapInUseMiB"`
	AgentRSSMiB    float64 `json:"agentRSSMiB"`
	AgentPeakMiB   float64 `json:"agentPeakMiB"`
	HarnessHeapMiB float64 `json:"harnessHeapMiB"`
}

// harness holds the running system.
type harness struct {
	cfg     config
	p       progress
	env     *testenv.Env
	c       client.Client
	dir     string
	kubecfg string
	mgr     *sim.Manager
	tracker *sim.Tracker
	nodes   []*sim.Node
	// reporting are the nodes without an agent (addReportingNodes), after nodes.
	reporting []string
	nextLUN   int
	cancel    context.CancelFunc
}

func run(ctx context.Context, cfg config, out *os.File) (*results, error) {
	res := &results{Machine: machine(), Started: time.Now(), Config: cfg}
	// Cancelled before the control plane stops: the tracker's watch and the agents end first,
	// so kube-apiserver does not wait out its stop timeout on live watches.
	ctx, cancel := context.WithCancel(ctx)
	h := &harness{cfg: cfg, p: progress{start: time.Now(), out: out}, cancel: cancel}
	defer func() { res.Duration = time.Since(res.Started).Round(time.Second).String() }()
	// Stopped on every way out, a failed start included: a started control plane must not
	// outlive the harness.
	defer h.stop()
	if err := h.start(ctx); err != nil {
		return nil, err
	}

	var err error
	if res.Burst, err = h.burst(ctx); err != nil {
		return res, err
	}
	if res.Setup, err = h.populate(ctx); err != nil {
		return res, err
	}
	for _, n := range cfg.Nodes {
		s, err := h.measureSize(ctx, n)
		res.Sizes = append(res.Sizes, s)
		if err != nil {
			return res, err
		}
		printSize(out, s)
	}
	if cfg.MemoryNodes > 0 {
		if err := h.addReportingNodes(ctx, cfg.MemoryNodes); err != nil {
			return res, err
		}
		h.p.logf("Waiting for the manager to stop writing")
		if err := h.settle(ctx); err != nil {
			return res, err
		}
	}
	if res.Memory, err = h.memory(ctx); err != nil {
		return res, err
	}
	printTable(out, res)
	return res, nil
}

func machine() string {
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Join(strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:], " ")
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs (%s), MemTotal %s, load %s, %s", runtime.NumCPU(), model, mem, load, runtime.Version())
}

func (h *harness) start(ctx context.Context) error {
	h.p.logf("Starting the control plane")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	h.env, h.c = env, env.Client
	if h.dir = h.cfg.Dir; h.dir == "" {
		if h.dir, err = sim.TempDir("kube-multipath-scale-"); err != nil {
			return err
		}
	}
	h.kubecfg = filepath.Join(h.dir, "kubeconfig")
	if err := env.WriteKubeconfig(h.kubecfg); err != nil {
		return err
	}
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sim.Namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	h.p.logf("Building and starting the manager (log: %s)", filepath.Join(h.dir, "manager.log"))
	bin, err := sim.BuildManager(ctx, h.dir)
	if err != nil {
		return err
	}
	h.mgr = &sim.Manager{Bin: bin, Kubeconfig: h.kubecfg, Log: filepath.Join(h.dir, "manager.log"), Pprof: h.cfg.Pprof,
		Args: append([]string{"--agent-refresh-interval=" + h.cfg.Refresh.String()}, strings.Fields(h.cfg.ManagerArgs)...)}
	if err := h.mgr.Start(); err != nil {
		return err
	}
	if err := h.mgr.WaitMetrics(ctx); err != nil {
		return err
	}
	if h.tracker, err = sim.Track(ctx, env.Config, env.Scheme); err != nil {
		return err
	}
	return h.c.Create(ctx, sim.ClusterConfig("100%"))
}

func (h *harness) stop() {
	h.p.logf("Stopping")
	var wg sync.WaitGroup
	for _, n := range h.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.Close() }()
	}
	wg.Wait()
	if h.mgr != nil {
		_ = h.mgr.Stop()
	}
	h.cancel()
	if h.env != nil {
		_ = h.env.Stop()
	}
	if h.cfg.Dir == "" && h.dir != "" {
		_ = os.RemoveAll(h.dir)
	}
}

// lun is the i-th LUN, expected on its host group's nodes.
func (h *harness) lun(i int) *mpv1alpha1.MultipathWWID {
	w := sim.LUN(i)
	w.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{hostGroupLabel: hostGroup(i % h.cfg.HostGroups)}}
	return w
}

const hostGroupLabel = "scale.kube-multipath.io/host-group"

func hostGroup(g int) string { return fmt.Sprintf("g%03d", g) }

func (h *harness) luns(from, n int) []*mpv1alpha1.MultipathWWID {
	out := make([]*mpv1alpha1.MultipathWWID, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, h.lun(i))
	}
	return out
}

// rendered waits until the config's render holds luns LUNs and returns it.
func (h *harness) rendered(ctx context.Context, luns int, timeout time.Duration) (*mpv1alpha1.MultipathConfig, error) {
	deadline := time.Now().Add(timeout)
	for {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := h.c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err == nil &&
			cfg.Status.RenderedConfig != nil && cfg.Status.RenderedConfig.LUNs == int32(luns) {
			return cfg, nil
		}
		if done, err := h.mgr.Exited(); done {
			return nil, fmt.Errorf("the manager exited: %v (log %s)", err, h.mgr.Log)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no render of %d LUNs within %s", luns, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// burst creates cfg.Burst MultipathWWIDs at once (64 in flight, as a GitOps sync does) and
// counts the renders and ConfigMap writes they cause, from the manager's own counters.
func (h *harness) burst(ctx context.Context) (*burst, error) {
	if h.cfg.Burst == 0 {
		return nil, nil
	}
	if _, err := h.rendered(ctx, 0, time.Minute); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // let the first (empty) render settle
	r0, w0, err := h.renderCounters(ctx)
	if err != nil {
		return nil, err
	}
	h.p.logf("Burst: creating %d MultipathWWIDs at once", h.cfg.Burst)
	start := time.Now()
	if err := sim.CreateAll(ctx, h.c, h.luns(0, h.cfg.Burst), 64); err != nil {
		return nil, err
	}
	if _, err := h.rendered(ctx, h.cfg.Burst, 5*time.Minute); err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	time.Sleep(3 * time.Second) // a late pass would show here
	r1, w1, err := h.renderCounters(ctx)
	if err != nil {
		return nil, err
	}
	h.nextLUN = h.cfg.Burst
	b := &burst{Creations: h.cfg.Burst, Renders: r1 - r0, ConfigMapWrites: w1 - w0, Seconds: round(secs)}
	h.p.logf("Burst: %.0f renders, %.0f ConfigMap writes, rendered after %.1fs", b.Renders, b.ConfigMapWrites, secs)
	return b, nil
}

func (h *harness) renderCounters(ctx context.Context) (renders, writes float64, err error) {
	ms, err := h.mgr.Scrape(ctx)
	if err != nil {
		return 0, 0, err
	}
	return ms.Sum("kube_multipath_renders_total", "", ""), ms.Sum("kube_multipath_rendered_configmap_writes_total", "", ""), nil
}

// populate creates the rest of the LUNs and the PVs.
func (h *harness) populate(ctx context.Context) (*setup, error) {
	s := &setup{LUNs: h.cfg.LUNs, PVs: h.cfg.PVs}
	start := time.Now()
	if rest := h.cfg.LUNs - h.nextLUN; rest > 0 {
		h.p.logf("Creating %d more MultipathWWIDs", rest)
		if err := sim.CreateAll(ctx, h.c, h.luns(h.nextLUN, rest), 32); err != nil {
			return nil, err
		}
	}
	h.nextLUN = max(h.nextLUN, h.cfg.LUNs)
	if h.cfg.PVs > 0 {
		h.p.logf("Creating %d PersistentVolumes consuming them", h.cfg.PVs)
		if err := sim.CreateAll(ctx, h.c, sim.PVs(0, h.cfg.PVs), 32); err != nil {
			return nil, err
		}
	}
	s.CreateSecs = round(time.Since(start).Seconds())
	cfg, err := h.rendered(ctx, h.nextLUN, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	s.RenderSecs = round(time.Since(start).Seconds())
	s.RenderBytes = cfg.Status.RenderedConfig.Bytes
	if err := h.settle(ctx); err != nil {
		return nil, err
	}
	s.SettledSecs = round(time.Since(start).Seconds())
	h.p.logf("%d LUNs and %d PVs in %.1fs; rendered (%d bytes) after %.1fs; manager done writing after %.1fs", s.LUNs, s.PVs, s.CreateSecs, s.RenderBytes, s.RenderSecs, s.SettledSecs)
	return s, nil
}

// addNodes brings the cluster to n nodes and waits until all run the current config.
func (h *harness) addNodes(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	from := len(h.nodes)
	if n <= from {
		return 0, nil
	}
	h.p.logf("Adding nodes %d..%d", from, n-1)
	newNodes := make([]*sim.Node, n-from)
	errs := make([]error, n-from)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for k := from; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			g := k % h.cfg.HostGroups
			node, err := sim.NewNode(ctx, h.c, h.env.Config, fmt.Sprintf("node-%04d", k), sim.NodeOptions{
				Dir: h.dir, RefreshInterval: h.cfg.Refresh,
				Maps:   h.groupMaps(g),
				Labels: map[string]string{hostGroupLabel: hostGroup(g)},
			})
			if err == nil {
				err = node.StartAgent(ctx)
			}
			newNodes[k-from], errs[k-from] = node, err
		}()
	}
	wg.Wait()
	for _, node := range newNodes {
		if node != nil {
			h.nodes = append(h.nodes, node)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	cfg, err := h.rendered(ctx, h.nextLUN, time.Minute)
	if err != nil {
		return 0, err
	}
	if err := h.tracker.WaitApplied(ctx, cfg.Status.RenderedConfig.Hash, n, 15*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// groupMaps are the maps of host group g's nodes: its LUNs among those that exist.
func (h *harness) groupMaps(g int) []multipathdtest.Map {
	var out []multipathdtest.Map
	for i := g; i < h.cfg.LUNs; i += h.cfg.HostGroups {
		out = append(out, multipathdtest.HealthyMap(sim.WWID(i), sim.Alias(i), h.cfg.Paths))
	}
	return out
}

func (h *harness) measureSize(ctx context.Context, n int) (size, error) {
	s := size{Nodes: n}
	joinStart := time.Now()
	join, err := h.addNodes(ctx, n)
	if err != nil {
		return s, err
	}
	s.JoinSeconds = round(join.Seconds())
	if err := h.settle(ctx); err != nil {
		return s, err
	}
	s.SettledSeconds = round(time.Since(joinStart).Seconds())
	h.p.logf("%d nodes run the config (joined in %.1fs, health written after %.1fs)", n, s.JoinSeconds, s.SettledSeconds)

	req0 := h.apiRequests(ctx)
	cpu0, wall0 := h.cpu(), time.Now()
	if s.Apply, s.Reported, s.Handout, s.Reconfigured, s.CreatedMs, s.RenderedMs, err = h.propagation(ctx); err != nil {
		return s, err
	}
	s.ApplyCPU, s.ApplyWall = cpuDiff(h.cpu(), cpu0, 1), round(time.Since(wall0).Seconds())
	s.ApplyRequests = countDiff(h.apiRequests(ctx), req0)
	payload, err := h.renderedConfigMap(ctx)
	if err != nil {
		return s, err
	}
	if s.Floor, err = floor(ctx, h.env.Config, h.c, n, payload, false, nil); err != nil {
		return s, err
	}
	if s.FloorConfirmed, err = floor(ctx, h.env.Config, h.c, n, payload, true, func() { cpu0, wall0 = h.cpu(), time.Now() }); err != nil {
		return s, err
	}
	s.FloorConfirmedCPU, s.FloorConfirmedWall = cpuDiff(h.cpu(), cpu0, 1), round(time.Since(wall0).Seconds())
	if payload != nil {
		for _, v := range payload.Data {
			s.PayloadBytes += len(v)
		}
		for _, v := range payload.BinaryData {
			s.PayloadBytes += len(v)
		}
	}
	if s.Floor.P50 > 0 {
		s.RatioP50 = round(s.Apply.P50 / s.Floor.P50)
	}
	if s.Floor.Max > 0 {
		s.RatioMax = round(s.Apply.Max / s.Floor.Max)
	}
	if s.Floor.P99 > 0 {
		s.RatioP99 = round(s.Apply.P99 / s.Floor.P99)
	}
	if s.FloorConfirmed.P99 > 0 {
		s.RatioConfirmedP99 = round(s.Apply.P99 / s.FloorConfirmed.P99)
	}
	if s.Floor.P50 > 0 && s.Floor.Max > 0 {
		s.RatioReconfiguredP50 = round(s.Reconfigured.P50 / s.Floor.P50)
		s.RatioReconfiguredMax = round(s.Reconfigured.Max / s.Floor.Max)
	}
	h.p.logf("apply -> created %.0fms, rendered %.0fms, handed out p50 %.0fms max %.0fms, reconfigured p50 %.0fms max %.0fms, applied p50 %.0fms p99 %.0fms max %.0fms, reported p50 %.0fms max %.0fms; floor p50 %.0fms p99 %.0fms max %.0fms; with a confirmation p50 %.0fms p99 %.0fms max %.0fms",
		s.CreatedMs, s.RenderedMs, s.Handout.P50, s.Handout.Max, s.Reconfigured.P50, s.Reconfigured.Max, s.Apply.P50, s.Apply.P99, s.Apply.Max, s.Reported.P50, s.Reported.Max, s.Floor.P50, s.Floor.P99, s.Floor.Max,
		s.FloorConfirmed.P50, s.FloorConfirmed.P99, s.FloorConfirmed.Max)

	if s.PathFailureMs, s.PathRecoveryMs, err = h.pathFailure(ctx); err != nil {
		return s, err
	}
	h.p.logf("path failure -> status %.0fms, recovery -> status %.0fms", s.PathFailureMs, s.PathRecoveryMs)

	cpu0, wall0 = h.cpu(), time.Now()
	if s.Steady, s.ManagerSteady, err = h.steady(ctx); err != nil {
		return s, err
	}
	if h.cfg.Steady > 0 {
		s.SteadyCPU = cpuDiff(h.cpu(), cpu0, time.Since(wall0).Minutes())
	}
	return s, nil
}

// propagation applies one new MultipathWWID and times each node's first report of the
// config that holds it, and the stages on the way.
func (h *harness) propagation(ctx context.Context) (apply, reported, handout, reconfigured sim.Latencies, createdMs, renderedMs float64, err error) {
	i := h.nextLUN
	h.nextLUN++
	stop, err := h.profile("")
	if err != nil {
		return apply, reported, handout, reconfigured, 0, 0, err
	}
	defer stop()
	start := time.Now()
	if err := h.c.Create(ctx, h.lun(i)); err != nil {
		return apply, reported, handout, reconfigured, 0, 0, err
	}
	createdMs = sim.Milliseconds(time.Since(start))
	cfg, err := h.rendered(ctx, h.nextLUN, 5*time.Minute)
	if err != nil {
		return apply, reported, handout, reconfigured, 0, 0, err
	}
	renderedMs = sim.Milliseconds(time.Since(start))
	hash := cfg.Status.RenderedConfig.Hash
	if err := h.tracker.WaitApplied(ctx, hash, len(h.nodes), 15*time.Minute); err != nil {
		return apply, reported, handout, reconfigured, 0, 0, err
	}
	applied := make([]time.Duration, 0, len(h.nodes))
	reports := make([]time.Duration, 0, len(h.nodes))
	handed := make([]time.Duration, 0, len(h.nodes))
	reconf := make([]time.Duration, 0, len(h.nodes))
	for _, n := range h.nodes {
		at, ok := h.tracker.FirstApplied(n.Name, hash)
		if !ok {
			return apply, reported, handout, reconfigured, 0, 0, fmt.Errorf("%s never reported %.16s", n.Name, hash)
		}
		reports = append(reports, at.Sub(start))
		if c, ok := h.tracker.FirstConfirmed(n.Name, hash); ok && c.Before(at) {
			at = c
		}
		applied = append(applied, at.Sub(start))
		if at, ok := h.tracker.FirstHanded(n.Name, hash); ok {
			handed = append(handed, at.Sub(start))
		}
		if at := n.Daemon.Received("reconfigure"); at.After(start) {
			reconf = append(reconf, at.Sub(start))
		}
	}
	// Every node's files hold the new LUN (spot-check the first and the last).
	for _, n := range []*sim.Node{h.nodes[0], h.nodes[len(h.nodes)-1]} {
		data, err := n.ReadFile("etc/multipath/wwids")
		if err != nil {
			return apply, reported, handout, reconfigured, 0, 0, err
		}
		if !strings.Contains(string(data), sim.WWID(i)) {
			return apply, reported, handout, reconfigured, 0, 0, fmt.Errorf("%s reports config %.16s but its wwids file lacks %s", n.Name, hash, sim.WWID(i))
		}
	}
	return sim.Summarise(applied), sim.Summarise(reports), sim.Summarise(handed), sim.Summarise(reconf), createdMs, renderedMs, nil
}

// renderedConfigMap is the ConfigMap of the current render (the floor carries its payload).
func (h *harness) renderedConfigMap(ctx context.Context) (*corev1.ConfigMap, error) {
	cfg := &mpv1alpha1.MultipathConfig{}
	if err := h.c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
		return nil, err
	}
	if cfg.Status.RenderedConfig == nil {
		return nil, nil
	}
	cm := &corev1.ConfigMap{}
	err := h.c.Get(ctx, client.ObjectKey{Namespace: sim.Namespace, Name: cfg.Status.RenderedConfig.Name}, cm)
	return cm, err
}

// pathFailure fails one path of node 0's first map, as a real path failure does (multipathd's
// view changes and a device-mapper uevent fires), and times the MultipathWWID status; then the
// path comes back.
func (h *harness) pathFailure(ctx context.Context) (failMs, recoverMs float64, err error) {
	stop, err := h.profile("-pathfailure")
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	node := h.nodes[0]
	maps := h.groupMaps(0)
	if len(maps) == 0 {
		return 0, 0, nil
	}
	name := sim.Alias(0)
	h.logBehind(ctx, "before the path failure")
	defer h.logBehind(ctx, "after the recovery")
	measure := func(failed bool, want mpv1alpha1.MapState) (float64, error) {
		maps[0].Paths[0].Failed = failed
		start := time.Now()
		node.SetMaps(maps)
		node.Trigger()
		deadline := time.Now().Add(time.Minute)
		for {
			w := &mpv1alpha1.MultipathWWID{}
			if err := h.c.Get(ctx, client.ObjectKey{Name: name}, w); err == nil && w.Status.Health.State == want {
				return sim.Milliseconds(time.Since(start)), nil
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("%s status did not show %s within a minute", name, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if failMs, err = measure(true, mpv1alpha1.MapDegraded); err != nil {
		return 0, 0, err
	}
	recoverMs, err = measure(false, mpv1alpha1.MapOptimal)
	return failMs, recoverMs, err
}

// logBehind logs how many nodes' reports are behind their spec (status.observedGeneration):
// each of them is about to write its report, which the API server then serves before or
// beside the path failure's.
func (h *harness) logBehind(ctx context.Context, when string) {
	list := &mpv1alpha1.MultipathNodeStateList{}
	if err := h.c.List(ctx, list); err != nil {
		return
	}
	behind := 0
	for i := range list.Items {
		if list.Items[i].Status.ObservedGeneration != list.Items[i].Generation {
			behind++
		}
	}
	h.p.logf("%s: %d of %d nodes' reports behind their spec", when, behind, len(list.Items))
}

// steady counts what the agents and the manager send while nothing changes.
func (h *harness) steady(ctx context.Context) (map[string]float64, map[string]float64, error) {
	if h.cfg.Steady <= 0 {
		return nil, nil, nil
	}
	h.p.logf("Counting the steady state for %s", h.cfg.Steady)
	before := make([]map[string]int, len(h.nodes))
	for i, n := range h.nodes {
		before[i] = n.Requests.Snapshot()
	}
	mgrBefore, err := h.managerRequests(ctx)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-time.After(h.cfg.Steady):
	}
	minutes := time.Since(start).Minutes()
	perNode := map[string]float64{}
	for i, n := range h.nodes {
		for k, v := range sim.Diff(n.Requests.Snapshot(), before[i]) {
			perNode[k] += float64(v)
		}
	}
	for k, v := range perNode {
		perNode[k] = round(v / float64(len(h.nodes)) / minutes)
	}
	mgrAfter, err := h.managerRequests(ctx)
	if err != nil {
		return nil, nil, err
	}
	mgr := map[string]float64{}
	for k, v := range mgrAfter {
		if d := v - mgrBefore[k]; d > 0 {
			mgr[k] = round(d / minutes)
		}
	}
	return perNode, mgr, nil
}

// cpu reads the CPU time used so far by the harness (the simulated agents and watchers), the
// manager, kube-apiserver and etcd.
func (h *harness) cpu() map[string]time.Duration {
	pids := sim.ChildrenNamed("kube-apiserver", "etcd")
	pids["agents+harness"] = os.Getpid()
	pids["manager"] = h.mgr.Pid()
	out := map[string]time.Duration{}
	for name, pid := range pids {
		if d, err := sim.ProcessCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// apiRequests reads kube-apiserver's apiserver_request_total by "verb resource[/subresource]";
// nil when its metrics cannot be read (the figure is then left out, not guessed).
func (h *harness) apiRequests(ctx context.Context) map[string]float64 {
	dc, err := discovery.NewDiscoveryClientForConfig(h.env.Config)
	if err != nil {
		return nil
	}
	raw, err := dc.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil
	}
	families, err := sim.ParseMetrics(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, m := range families["apiserver_request_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["resource"] == "" {
			continue
		}
		key := strings.ToLower(labels["verb"]) + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out
}

// countDiff is after minus before, leaving out what did not change.
func countDiff(after, before map[string]float64) map[string]float64 {
	if after == nil || before == nil {
		return nil
	}
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// cpuDiff is after minus before in seconds, divided by per.
func cpuDiff(after, before map[string]time.Duration, per float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if b, ok := before[k]; ok {
			out[k] = round((v - b).Seconds() / per)
		}
	}
	return out
}

// settle waits until the manager has sent no write for one and a half refresh intervals (15 s
// by default): measurements start from a quiet cluster, and the time to get there is a figure
// of its own. Three seconds were too short: at 1,000 nodes and 10,000 LUNs a health pass that
// writes its 400 LUNs spends longer than that reading before it writes, so the memory step
// began while thousands of LUNs were still to write.
func (h *harness) settle(ctx context.Context) error {
	quiet := max(3*time.Second, h.cfg.Refresh*3/2)
	writes := func() (float64, error) {
		ms, err := h.mgr.Scrape(ctx)
		if err != nil {
			return 0, err
		}
		total := 0.0
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			total += ms.Sum("rest_client_requests_total", "method", m)
		}
		return total, nil
	}
	last, err := writes()
	if err != nil {
		return err
	}
	quietSince, deadline := time.Now(), time.Now().Add(30*time.Minute)
	for time.Since(quietSince) < quiet {
		if time.Now().After(deadline) {
			return fmt.Errorf("the manager kept writing for 30 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		now, err := writes()
		if err != nil {
			return err
		}
		if now != last {
			last, quietSince = now, time.Now()
		}
	}
	return nil
}

// managerRequests reads client-go's rest_client_requests_total from the manager, by method.
func (h *harness) managerRequests(ctx context.Context) (map[string]float64, error) {
	ms, err := h.mgr.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		out[m] = ms.Sum("rest_client_requests_total", "method", m)
	}
	return out, nil
}

// profile starts a CPU profile of the harness (the simulated agents) into
// -cpuprofile-<nodes><suffix> when -cpuprofile is set; stop ends it.
func (h *harness) profile(suffix string) (stop func(), err error) {
	if h.cfg.CPUProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%d%s", h.cfg.CPUProfile, len(h.nodes), suffix))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// memory reads the manager's RSS, and one real agent process's: node 0's in-process agent is
// replaced by the agent binary for a while.
func (h *harness) memory(ctx context.Context) (*memory, error) {
	m := &memory{Nodes: len(h.nodes) + len(h.reporting), AgentNodes: len(h.nodes), LUNs: h.nextLUN, PVs: h.cfg.PVs}
	mm, err := h.mgr.Memory()
	if err != nil {
		return nil, err
	}
	m.ManagerRSSMiB, m.ManagerPeakMiB = mib(mm.RSS), mib(mm.Peak)
	if heap, err := h.mgr.Metric(ctx, "go_memstats_heap_inuse_bytes"); err == nil {
		m.ManagerHeapMiB = mib(int64(heap))
	}
	// One reading is taken as the manager stops writing, when the watch still delivers the
	// echo of its last writes and a render pass may be in flight: a single figure moved by
	// 15 MiB between runs of one commit. Thirty more, a second apart, give the spread and
	// where it goes once the echo is processed.
	m.ManagerRSSSamplesMiB = []float64{m.ManagerRSSMiB}
	for range 30 {
		time.Sleep(time.Second)
		mm, err := h.mgr.Memory()
		if err != nil {
			return nil, err
		}
		m.ManagerRSSSamplesMiB = append(m.ManagerRSSSamplesMiB, mib(mm.RSS))
		m.ManagerPeakMiB = mib(mm.Peak)
	}
	var rt runtime.MemStats
	runtime.ReadMemStats(&rt)
	m.HarnessHeapMiB = mib(int64(rt.HeapInuse))

	node := h.nodes[0]
	if err := node.StopAgent(); err != nil {
		return nil, err
	}
	h.p.logf("Running node %s's agent as its own process to measure it", node.Name)
	bin := filepath.Join(h.dir, "agent")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/agent")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the agent: %w\n%s", err, out)
	}
	o := node.AgentOptions()
	cmd := exec.Command(bin, "--node-name="+o.NodeName, "--host-root="+o.HostRoot, "--namespace="+o.Namespace,
		"--multipathd-socket="+o.MultipathdSocket, "--refresh-interval="+o.RefreshInterval.String(),
		"--validate=false", "--settle-delay=0s", "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--uevents=false")
	deployed, err := sim.DeployedEnv("config/agent/daemonset.yaml")
	if err != nil {
		return nil, err
	}
	cmd.Env = append(append(os.Environ(), deployed...), "KUBECONFIG="+h.kubecfg)
	logFile, err := os.Create(filepath.Join(h.dir, "agent-process.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Three refresh intervals: it has synced, applied (a no-op) and reported several times.
	time.Sleep(3 * h.cfg.Refresh)
	am, err := sim.ProcessMemory(cmd.Process.Pid)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if err != nil {
		return nil, err
	}
	m.AgentRSSMiB, m.AgentPeakMiB = mib(am.RSS), mib(am.Peak)
	return m, node.StartAgent(ctx)
}

func mib(b int64) float64 { return round(float64(b) / (1 << 20)) }

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
