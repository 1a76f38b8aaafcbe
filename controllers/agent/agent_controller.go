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

package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
	"github.com/kube-multipath/kube-multipath/internal/mapusers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

const (
	// FieldOwner is the agent's server-side apply field manager.
	FieldOwner = "kube-multipath-agent"
	// DefaultSlowApply: an apply that takes longer shows Reconciling=True while it runs. A
	// transaction without multipath-tools' parser and settle delay takes milliseconds; writing
	// Applying first would double the status writes of every rollout (one API write per node).
	DefaultSlowApply = time.Second
	// reportHoldIntervals is how many refresh intervals the report of an apply the rollout wave
	// asked for may wait for the controller to record the config in the spec (holdReport).
	reportHoldIntervals = 3
	// cacheBehind is when a pass that found its cached spec older than the API server's runs
	// again, should the watch not bring the new one first.
	cacheBehind = 200 * time.Millisecond
	// backoffBase and backoffMax bound the wait before retrying a failed apply.
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
)

// Reconciler is the agent's controller for one node.
type Reconciler struct {
	// Kube makes the agent's requests and watches: the node's MultipathNodeState (without its
	// report: TrimOwnState) and the operator's ConfigMaps are watched, and read from the watch's
	// store; status and Lease writes are server-side applies.
	Kube *kubeclient.Client
	// Recorder emits Events on the MultipathNodeState.
	Recorder EventRecorder
	// Host applies configs to the host's files.
	Host *hostfs.Host
	// Daemon is multipathd (usually the same client as Host.Client).
	Daemon multipathd.Client
	// NodeName is this node; only the MultipathNodeState of that name is reconciled.
	NodeName string
	// Namespace holds the rendered ConfigMaps and the agent's Lease.
	Namespace string
	// RefreshInterval is the poll period; 0 means health.DefaultRefreshInterval.
	RefreshInterval time.Duration
	// Clock is injected for tests; nil means the real clock.
	Clock clock.PassiveClock
	// Triggers, when set, receives the passes asked for by file and uevent watchers (NewTriggers).
	Triggers <-chan struct{}
	// SlowApply is how long a transaction runs before Reconciling=True (Applying) is written;
	// 0 means DefaultSlowApply. A quicker apply is reported by one status write, not two.
	SlowApply time.Duration
	// MapUsers reads what holds each map (open count, holders, mounts, swap, LVM) from the
	// host's sysfs and procfs; nil reports no users.
	MapUsers *mapusers.Reader

	mu        sync.Mutex
	configs   configCache
	backoff   applyBackoff
	version   string
	lastRenew time.Time
	// confirmed is what the Lease last said about the apply.
	confirmed confirmation
	// lastReply is the hash of the last "show maps json" reply, lastMaps what it gave
	// (without users), lastKernels its maps' kernel names by WWID.
	lastReply   [sha256.Size]byte
	lastMaps    *mapsReport
	lastKernels map[string]string
	// adoptions are the WouldRename host conflicts of open maps the host named that a refused
	// apply would have adopted under another name (wouldRename), kept while they stand.
	adoptions []mpv1alpha1.HostConflict
	// openCountErr is why the maps' open count could not be read, once it could not;
	// openCountWarned says warnOpenCount has said so.
	openCountErr    string
	openCountWarned bool
	// managed is the desired config's WWIDs, lower-cased (reconcileUnmanaged).
	managed managedSet
	// reported is the map report last written (the cache holds none: TrimOwnState).
	reported reportRecord
	// waveReport is the last config applied because the rollout wave asked, and until when its
	// report may wait (holdReport).
	waveReport waveReport
	// states and configMaps are the watches (Start).
	states, configMaps cache.SharedIndexInformer
}

// scope is what one pass reads and decides.
type scope struct {
	// state is the MultipathNodeState as read, updated in place by the status setters.
	state *mpv1alpha1.MultipathNodeState
	// written is the status last written (the object as read, then each write); the final
	// write is skipped when the status equals it.
	written mpv1alpha1.MultipathNodeStateStatus
	// applied is what the host records as applied; nil when nothing is. Set by reconcileApply.
	applied *mpv1alpha1.RenderedConfigRef
	// applyErr is why the desired config is not applied (this pass or, during the backoff, the
	// last attempt); nil when it is, or when there is nothing to apply.
	applyErr error
	// maps are the node's maps, nil until reconcileMaps read them; daemonErr says why not.
	maps      *mapsReport
	daemonErr error
	// hostConflicts are the host's facts against the desired config, set by
	// reconcileHostFacts; nil when unknown this pass (the reported ones stay), empty when none.
	hostConflicts []mpv1alpha1.HostConflict
	// unmanaged are the devices the node sees that the desired config does not manage, set by
	// reconcileUnmanaged; nil when unknown this pass (the reported ones stay).
	unmanaged *unmanagedReport
	// fromWave is true when the desired config is the rollout wave's, not yet the spec's.
	fromWave bool
	// appliedNow is true when this pass applied the desired config.
	appliedNow bool
	// appliedNote is the note of the Applied Event of a config this pass applied because the
	// rollout wave asked: the Event waits for the report (finishReport).
	appliedNote string
}

type mapsReport struct {
	version  string
	mapCount int32
	maps     []mpv1alpha1.MapStatus
}

type phase func(context.Context, *scope) (result, error)

// reconcile runs one pass over the node's MultipathNodeState.
func (r *Reconciler) reconcile(ctx context.Context) (result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cached, err := kubeclient.Get[*mpv1alpha1.MultipathNodeState](r.states, stateResource, r.NodeName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return result{}, nil // not managed; the watch brings it back when created
		}
		return result{}, fmt.Errorf("failed to get MultipathNodeState %s: %w", r.NodeName, err)
	}
	st := cached.DeepCopy() // the pass sets its status
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("MultipathNodeState", klog.KObj(st)))
	if err := r.restoreReport(ctx, st); err != nil {
		return result{}, err
	}
	// A shallow copy is enough: the setters replace the status's slices and pointers, never
	// change what they point to (10,000 maps are worth not copying).
	s := &scope{state: st, written: st.Status}
	// The config to apply is the rollout wave's when it names this node (internal/wave); st is
	// this pass's copy, and only its status is ever written.
	w, err := r.wave(ctx)
	if err != nil {
		return result{}, err
	}
	if w.HasState(st) && (st.Spec.DesiredConfig == nil || *st.Spec.DesiredConfig != w.Config) {
		s.fromWave = true
		st.Spec.DesiredConfig = wave.Effective(w, st)
	}

	result := result{RequeueAfter: r.RefreshInterval}
	var errs []error
	for _, p := range []phase{r.reconcileApply, r.confirmApplied, r.reconcileDrift, r.reconcileMaps, r.reconcileHostFacts, r.reconcileUnmanaged} {
		res, err := p(ctx, s)
		if err != nil {
			errs = append(errs, err)
		}
		if res.RequeueAfter > 0 && res.RequeueAfter < result.RequeueAfter {
			result.RequeueAfter = res.RequeueAfter
		}
	}
	hold, err := r.finishReport(ctx, s)
	if err != nil {
		errs = append(errs, err)
	}
	if hold > 0 {
		result.RequeueAfter = min(result.RequeueAfter, hold)
	}
	if err := r.renewLease(ctx, s); err != nil {
		errs = append(errs, err)
	}
	return result, errors.Join(errs...)
}

// waveReport is a config applied because the rollout wave asked, and until when its report may
// wait for the spec.
type waveReport struct {
	hash  string
	until time.Time
	// event is the note of the apply's Applied Event, not yet recorded: it goes out with the
	// report, not in the middle of the wave's confirmations.
	event string
}

// finishReport ends a pass: it starts the hold of a config the wave asked for, writes the
// status unless the report is held, and records the wave's Applied Event once it is not. It
// returns how much longer the report is held.
//
// The Event waits because the API server serves the confirmations of the whole wave at the
// same time: an Event created by each of 1,000 agents as it applies is a request in the same
// queue as their Lease writes (the agents share one ServiceAccount, so one flow of the API
// server's priority and fairness) and takes API server CPU from them. A failure's Event is
// never held.
func (r *Reconciler) finishReport(ctx context.Context, s *scope) (time.Duration, error) {
	if s.appliedNow && s.fromWave {
		r.recordHeldEvent(s.state) // an earlier wave's, should its report not have gone out yet
		r.waveReport = waveReport{hash: s.applied.Hash, until: r.Clock.Now().Add(reportHoldIntervals * r.RefreshInterval), event: s.appliedNote}
	}
	hold := r.holdReport(s)
	err := r.updateStatus(ctx, s, hold > 0)
	if hold == 0 {
		r.recordHeldEvent(s.state)
	}
	return hold, err
}

// eventf records an Event about st, after the Applied Event finishReport holds (if any): the
// node's Events keep the order in which what they tell happened.
func (r *Reconciler) eventf(st *mpv1alpha1.MultipathNodeState, eventtype, reason, action, note string, args ...any) {
	r.recordHeldEvent(st)
	r.Recorder.Eventf(st, nil, eventtype, reason, action, note, args...)
}

// recordHeldEvent records the Applied Event finishReport holds, if any.
func (r *Reconciler) recordHeldEvent(st *mpv1alpha1.MultipathNodeState) {
	if r.waveReport.event != "" {
		r.Recorder.Eventf(st, nil, corev1.EventTypeNormal, mpv1alpha1.AppliedReason, "Apply", "%s", r.waveReport.event)
		r.waveReport.event = ""
	}
}

// holdReport is how much longer the status may wait to report the wave's config, 0 when it
// must be written now. The confirmation is on the Lease, and is what the rollout counts; the
// report follows when the rollout controller records the wave's config in the spec (a new
// generation wakes the agent, and the status then carries the new observedGeneration with the
// report, one write instead of two), or reportHoldIntervals refresh intervals after the apply.
// Only the report of the config waits: a change of the maps (a path failed, a map appeared or
// is now held open), an apply failure or multipathd going away is written at once
// (updateStatus). On a thousand nodes a rollout wave is then one status write per node, after
// the confirmations, not two in the middle of them.
func (r *Reconciler) holdReport(s *scope) time.Duration {
	w := r.waveReport
	if !s.fromWave || s.applied == nil || s.applied.Hash != w.hash || s.applyErr != nil || s.daemonErr != nil {
		return 0
	}
	return max(0, w.until.Sub(r.Clock.Now()))
}

// reconcileApply applies spec.desiredConfig when the host does not run it.
func (r *Reconciler) reconcileApply(ctx context.Context, s *scope) (result, error) {
	log := log.FromContext(ctx)
	applied, err := r.Host.Applied()
	if err != nil {
		s.applyErr = err
		return result{}, nil
	}
	if applied != nil {
		s.applied = &mpv1alpha1.RenderedConfigRef{Name: applied.Name, Hash: applied.Hash}
	}
	desired := s.state.Spec.DesiredConfig
	if desired == nil {
		return result{}, nil
	}
	pending, err := r.Host.Pending()
	if err != nil {
		s.applyErr = err
		return result{}, nil
	}
	if applied != nil && applied.Hash == desired.Hash && !pending {
		r.backoff = applyBackoff{}
		return result{}, nil
	}
	if !s.fromWave {
		// The spec asks for a config the host does not run. The cache may be behind: the rollout
		// controller records a wave's config in the spec before the wave stops naming the node,
		// but the two arrive through different watches, and an old spec applied here would roll
		// the node back. A read from the API server settles it; a newer spec comes through the
		// watch and starts another pass.
		fresh, err := r.Kube.GetState(ctx, s.state.Name)
		if err != nil {
			// Not an apply failure (nothing was tried): retried as an error.
			return result{}, fmt.Errorf("failed to read MultipathNodeState %s before applying its spec: %w", s.state.Name, err)
		}
		if fresh.Generation != s.state.Generation {
			log.V(4).Info("The cached spec is behind the API server; waiting for the watch", "cached", s.state.Generation, "current", fresh.Generation)
			return result{RequeueAfter: cacheBehind}, nil
		}
	}
	now := r.Clock.Now()
	if wait, lastErr := r.backoff.wait(desired.Hash, now); wait > 0 {
		s.applyErr = lastErr
		return result{RequeueAfter: wait}, nil
	}

	rendered, err := r.config(ctx, *desired)
	if err == nil {
		log.Info("Applying config", "config", desired.Name)
		reported := r.reportSlowApply(ctx, s, desired)
		var res hostfs.Result
		start := time.Now()
		res, err = r.Host.Apply(ctx, rendered)
		reported()
		observeApply(time.Since(start), res, err, r.Clock.Now())
		if res.Recovered {
			r.eventf(s.state, corev1.EventTypeWarning, mpv1alpha1.RecoveredReason, "Apply",
				"Rolled back an apply that an agent restart interrupted before applying %s", desired.Name)
		}
		if err == nil {
			r.backoff = applyBackoff{}
			s.applied = desired.DeepCopy()
			s.appliedNow = true
			log.Info("Applied config", "config", desired.Name, "changed", res.Changed, "reconfigured", res.Reconfigured,
				"addedWWIDs", len(res.Added), "removedWWIDs", len(res.Removed), "validated", res.Validated)
			note := fmt.Sprintf("Applied config %s (%d files changed, %d WWIDs added, %d removed)", desired.Name, len(res.Changed), len(res.Added), len(res.Removed))
			if s.fromWave {
				s.appliedNote = note // recorded with the report (finishReport)
			} else {
				r.eventf(s.state, corev1.EventTypeNormal, mpv1alpha1.AppliedReason, "Apply", "%s", note)
			}
			return result{}, nil
		}
	}
	s.applyErr = err
	wait := r.backoff.failed(desired.Hash, err, r.Clock.Now())
	log.Error(err, "Failed to apply config", "config", desired.Name, "retryAfter", wait)
	r.eventf(s.state, corev1.EventTypeWarning, mpv1alpha1.ApplyFailedReason, "Apply",
		"Failed to apply config %s: %v", desired.Name, err)
	return result{RequeueAfter: wait}, nil
}

// reconcileDrift re-asserts the desired config when the owned files drifted from it.
func (r *Reconciler) reconcileDrift(ctx context.Context, s *scope) (result, error) {
	desired := s.state.Spec.DesiredConfig
	// A config applied this pass was just written and checked by the transaction: comparing
	// the files with it again costs as much as the apply (the WWIDs file of 10,000 LUNs).
	if desired == nil || s.applyErr != nil || s.applied == nil || s.applied.Hash != desired.Hash || s.appliedNow {
		return result{}, nil
	}
	rendered, err := r.config(ctx, *desired)
	if err != nil {
		// The host runs the config; only the drift check is missed. Retry next refresh.
		log.FromContext(ctx).Error(err, "Cannot check drift: the rendered config is unreadable", "config", desired.Name)
		return result{}, nil
	}
	drifted, _, err := r.Host.Reassert(ctx, rendered)
	if len(drifted) == 0 && err == nil {
		return result{}, nil
	}
	driftCorrectionsTotal.Inc()
	if err != nil {
		s.applyErr = fmt.Errorf("owned files %v changed by hand and re-asserting %s failed: %w", drifted, desired.Name, err)
		r.eventf(s.state, corev1.EventTypeWarning, mpv1alpha1.ApplyFailedReason, "Reassert", "%v", s.applyErr)
		return result{}, nil
	}
	log.FromContext(ctx).Info("Re-asserted owned files changed by hand", "files", drifted, "config", desired.Name)
	r.eventf(s.state, corev1.EventTypeWarning, mpv1alpha1.DriftCorrectedReason, "Reassert",
		"Owned files changed by hand were re-asserted to config %s: %v", desired.Name, drifted)
	return result{}, nil
}

// mapsSummer is a multipathd client that hashes the maps reply without holding it whole
// (multipathd.SocketClient).
type mapsSummer interface {
	ShowMapsJSONSum(ctx context.Context) ([sha256.Size]byte, error)
}

// reconcileMaps reads multipathd's maps, and on every pass what holds them.
func (r *Reconciler) reconcileMaps(ctx context.Context, s *scope) (result, error) {
	unchanged := func() (result, error) {
		// The same reply as last time (the steady state): no parse, no new garbage.
		multipathdUp.Set(1)
		s.maps = r.withUsersReport(ctx, r.lastMaps)
		r.warnOpenCount(ctx, s.state)
		return result{}, nil
	}
	if summer, ok := r.Daemon.(mapsSummer); ok && r.lastMaps != nil {
		// The reply's hash, read through a small buffer: the whole reply (18 MiB at 10,000 maps)
		// is read again only when it changed. A failure is told by the read below.
		if sum, err := summer.ShowMapsJSONSum(ctx); err == nil && sum == r.lastReply {
			return unchanged()
		}
	}
	// Each map becomes its status as it is decoded, and is dropped: at 10,000 maps of 4 paths
	// neither the reply nor the decoded maps are held whole (docs/agent.md).
	var report mapstatus.Report
	kernels := map[string]string{}
	count := 0
	add := func(m multipathd.Map) error {
		count++
		report.Add(m)
		if wwid := mapstatus.WWID(m); wwid != "" && m.Sysfs != "" {
			kernels[wwid] = m.Sysfs
		}
		return nil
	}
	sum, err := multipathd.EachMap(ctx, r.Daemon, add)
	if err == nil && r.lastMaps != nil && sum == r.lastReply {
		return unchanged()
	}
	if err != nil {
		r.lastMaps = nil
		s.daemonErr = err
		r.version = "" // read again once it is back: it may have been upgraded
		multipathdUp.Set(0)
		return result{}, nil
	}
	multipathdUp.Set(1)
	if r.version == "" {
		if v, err := r.Daemon.Version(ctx); err == nil {
			r.version = v
		} else {
			log.FromContext(ctx).V(1).Info("Cannot read multipathd's version", "err", err.Error())
		}
	}
	r.lastReply, r.lastKernels = sum, kernels
	r.lastMaps = &mapsReport{version: r.version, mapCount: int32(min(count, 1<<31-1)), maps: report.Maps()}
	s.maps = r.withUsersReport(ctx, r.lastMaps)
	r.warnOpenCount(ctx, s.state)
	nodeMaps.set(s.maps.maps)
	return result{}, nil
}

// withUsersReport is base with each map's users, fitted to the status budget.
func (r *Reconciler) withUsersReport(ctx context.Context, base *mapsReport) *mapsReport {
	out := *base
	out.maps = fitMaps(r.withUsers(ctx, base.maps, r.lastKernels), maxMapsBytes)
	return &out
}

// maxMapsBytes bounds status.maps as JSON. etcd stores an object of at most 1.5 MiB by default
// (the rest of the object is small), and 10,000 maps with four paths each take 5 MiB, 1.1 MiB
// without their paths.
const maxMapsBytes = 1280 << 10

// fitMaps keeps maps within budget bytes of JSON by leaving out path lists with their path
// groups, those of optimal maps first (their paths are all fine), then all; the counts stay.
// Maps are never left out. The agent's maps come from mapstatus.FromMaps, which lists no
// optimal map's paths already; past the budget (some 3,000 maps of 4 paths that are not
// optimal: an array that lost a controller) no map's paths are listed.
func fitMaps(maps []mpv1alpha1.MapStatus, budget int) []mpv1alpha1.MapStatus {
	mapsOnly, optimalPaths, otherPaths := 0, 0, 0
	for i := range maps {
		m := &maps[i]
		mapsOnly += jsonMapSize(m)
		paths := jsonPathsSize(m)
		if m.State == mpv1alpha1.MapOptimal {
			optimalPaths += paths
		} else {
			otherPaths += paths
		}
	}
	var keep func(*mpv1alpha1.MapStatus) bool
	switch {
	case mapsOnly+optimalPaths+otherPaths <= budget, optimalPaths+otherPaths == 0:
		// Within budget, or nothing to leave out (10,000 optimal maps are near the budget by
		// this bound): the maps as they are, not a copy on every pass.
		return maps
	case mapsOnly+otherPaths <= budget:
		keep = func(m *mpv1alpha1.MapStatus) bool { return m.State != mpv1alpha1.MapOptimal }
	default:
		keep = func(*mpv1alpha1.MapStatus) bool { return false }
	}
	out := slices.Clone(maps)
	for i := range out {
		if !keep(&out[i]) {
			out[i].Paths, out[i].PathGroups = nil, nil
		}
	}
	return out
}

// jsonMapSize and jsonPathSize bound the JSON size of a map without its paths and of a path:
// keys, punctuation, numbers and the quoted strings. A map's users count as the map: they are
// what keeps it from being removed, and are never left out.
func jsonMapSize(m *mpv1alpha1.MapStatus) int {
	// {"wwid":,"name":,"state":,"activePaths":,"totalPaths":,"paths":[]}, and the comma after it.
	n := 67 + len(strconv.Itoa(int(m.ActivePaths))) + len(strconv.Itoa(int(m.TotalPaths))) +
		jsonStringSize(m.WWID) + jsonStringSize(m.Name) + jsonStringSize(string(m.State))
	if m.OpenCount != 0 {
		n += 13 + len(strconv.Itoa(int(m.OpenCount))) // ,"openCount":N
	}
	if len(m.Users) > 0 {
		n += 10 // ,"users":[]
		for _, u := range m.Users {
			n += 19 + jsonStringSize(string(u.Kind)) + jsonStringSize(u.Name) // {"kind":,"name":},
		}
	}
	return n
}

func jsonPathSize(p *mpv1alpha1.PathStatus) int {
	// {"device":,"hcil":,"dmState":,"checkerState":,"deviceState":}, and the comma after it.
	n := 62 + jsonStringSize(p.Device) + jsonStringSize(p.HCIL) + jsonStringSize(p.DMState) +
		jsonStringSize(p.CheckerState) + jsonStringSize(p.DeviceState)
	if p.Group != 0 {
		n += 9 + len(strconv.Itoa(int(p.Group))) // ,"group":N
	}
	if p.Priority != 0 {
		n += 12 + len(strconv.Itoa(int(p.Priority))) // ,"priority":N
	}
	return n
}

// jsonPathsSize bounds the JSON of a map's paths and path groups, which fitMaps leaves out
// together: jsonMapSize counts the "paths":[] of a map.
func jsonPathsSize(m *mpv1alpha1.MapStatus) int {
	n := 0
	for j := range m.Paths {
		n += jsonPathSize(&m.Paths[j])
	}
	if len(m.PathGroups) > 0 {
		n += 16 // ,"pathGroups":[]
		for _, g := range m.PathGroups {
			// {"group":N,"selector":,"priority":N,"state":}, and the comma after it.
			n += 44 + len(strconv.Itoa(int(g.Group))) + len(strconv.Itoa(int(g.Priority))) +
				jsonStringSize(g.Selector) + jsonStringSize(g.State)
		}
	}
	return n
}

// jsonStringSize bounds the size of s as a JSON string as encoding/json writes it: quotes, \" and
// \\, \u00XX for <, > and & and control bytes, \u2028 and \u2029 (3 bytes in UTF-8, 6 escaped).
func jsonStringSize(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			n++
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 5
		case c == 0xe2:
			n += 3
		}
	}
	return n
}

// config returns the rendered config ref names, from memory or from its ConfigMap.
func (r *Reconciler) config(ctx context.Context, ref mpv1alpha1.RenderedConfigRef) (*multipathconf.Rendered, error) {
	if c := r.configs.get(ref); c != nil {
		return c, nil
	}
	// The agent watches the operator's ConfigMaps: a rendered one reaches every node once, when
	// it is created (one object fanned out by the API server), before any node is handed it.
	// Read in place: Unpack only reads, and a copy of a large config per node per apply is what
	// the cache is there to spare.
	if cm, err := r.cachedConfigMap(ref.Name); err == nil {
		if rendered, err := multipathconf.Unpack(cm.Data, cm.BinaryData, ref.Hash); err == nil {
			r.configs.put(ref, rendered)
			return rendered, nil
		}
	}
	// A rendered ConfigMap never changes and Unpack checks its content against the hash, so the
	// API server's watch cache (resourceVersion 0) serves it as well as etcd does, without a
	// quorum read per node when every node reads the same one at once. A cache that has not seen
	// it yet answers NotFound: then it is read from etcd.
	cm, err := r.Kube.GetConfigMap(ctx, r.Namespace, ref.Name, "0")
	if apierrors.IsNotFound(err) {
		cm, err = r.Kube.GetConfigMap(ctx, r.Namespace, ref.Name, "")
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read rendered ConfigMap %s: %w", klog.KRef(r.Namespace, ref.Name), err)
	}
	rendered, err := multipathconf.Unpack(cm.Data, cm.BinaryData, ref.Hash)
	if err != nil {
		return nil, fmt.Errorf("rendered ConfigMap %s: %w", klog.KObj(cm), err)
	}
	r.configs.put(ref, rendered)
	return rendered, nil
}

// cachedConfigMap is the operator's ConfigMap name from the watch, as stored: read, never changed.
func (r *Reconciler) cachedConfigMap(name string) (*corev1.ConfigMap, error) {
	return kubeclient.Get[*corev1.ConfigMap](r.configMaps, configMapResource, r.Namespace+"/"+name)
}

// configCache keeps the last two configs read: the desired one and the one before it.
type configCache struct {
	entries []configEntry
}

type configEntry struct {
	ref      mpv1alpha1.RenderedConfigRef
	rendered *multipathconf.Rendered
}

func (c *configCache) get(ref mpv1alpha1.RenderedConfigRef) *multipathconf.Rendered {
	for _, e := range c.entries {
		if e.ref == ref {
			return e.rendered
		}
	}
	return nil
}

func (c *configCache) put(ref mpv1alpha1.RenderedConfigRef, r *multipathconf.Rendered) {
	c.entries = append([]configEntry{{ref, r}}, c.entries...)
	if len(c.entries) > 2 {
		c.entries = c.entries[:2]
	}
}

// applyBackoff spaces the retries of a failed apply of one config.
type applyBackoff struct {
	hash     string
	failures int
	next     time.Time
	lastErr  error
	// held is set when the last attempt lost a live map and was rolled back: the config
	// itself drops that map, and on a real node every retry drops it again (multipathd removes
	// it at reconfigure, and it is back only once the rollback has reconfigured again, a
	// post-check timeout later). Such a config is not tried again until the desired config
	// changes or the agent restarts.
	held bool
}

// wait returns how long to wait before the next attempt at hash, and the last failure.
func (b *applyBackoff) wait(hash string, now time.Time) (time.Duration, error) {
	if b.hash == hash && b.held {
		return backoffMax, b.lastErr
	}
	if b.hash != hash || !now.Before(b.next) {
		return 0, nil
	}
	return b.next.Sub(now), b.lastErr
}

// failed records a failure and returns the wait before the next attempt.
func (b *applyBackoff) failed(hash string, err error, now time.Time) time.Duration {
	if b.hash != hash {
		*b = applyBackoff{hash: hash}
	}
	b.failures++
	d := backoffMax
	if b.failures <= 20 {
		d = min(backoffBase<<(b.failures-1), backoffMax)
	}
	b.next, b.lastErr = now.Add(d), err
	var ae *hostfs.ApplyError
	b.held = errors.Is(err, hostfs.ErrPostCheck) && errors.As(err, &ae) && ae.RolledBack
	return d
}

// wave reads the rollout wave from the cache; nil when there is none. A wave that does not
// parse names no node: each node then applies its spec, as if there were no wave.
func (r *Reconciler) wave(ctx context.Context) (*wave.Wave, error) {
	cm, err := r.cachedConfigMap(wave.Name)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read the rollout wave: %w", err)
	}
	w, err := wave.FromConfigMap(cm)
	if err != nil {
		log.FromContext(ctx).Error(err, "Ignoring the rollout wave")
		return nil, nil
	}
	return w, nil
}

// waveNames tells which changes of the operator's ConfigMaps concern node: those of the rollout
// wave that name node before or after, with a different config or not at all.
type waveNames struct {
	node, namespace string
}

func (p waveNames) configOf(o any) *mpv1alpha1.RenderedConfigRef {
	cm, ok := o.(*corev1.ConfigMap)
	if !ok || cm.Name != wave.Name || cm.Namespace != p.namespace {
		return nil
	}
	w, err := wave.FromConfigMap(cm)
	if err != nil || !w.Names(p.node) {
		return nil
	}
	return &w.Config
}

// changed reports whether the change from old to new (either nil when created or deleted)
// concerns the node.
func (p waveNames) changed(old, new any) bool {
	o, n := p.configOf(old), p.configOf(new)
	return (o == nil) != (n == nil) || o != nil && *o != *n
}
