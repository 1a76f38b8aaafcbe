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

package health

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// MaxNonOptimal is LUNHealth.nonOptimal's MaxItems.
const MaxNonOptimal = 32

// StaleAfter is how many refresh intervals a node's report stays trusted.
const StaleAfter = 3

// Node is one managed node as the health controller sees it: from the Node object, the agent's
// Lease and the node's MultipathNodeState.
type Node struct {
	// Name is the node name.
	Name string
	// Ready is true when the Node's Ready condition is True.
	Ready bool
	// Reported is true when the agent has written the MultipathNodeState status at least once.
	Reported bool
	// LastHeartbeat is the agent's last sign of life (its Lease's renewTime).
	LastHeartbeat time.Time
	// RefreshInterval is how often the agent polls multipathd and renews its Lease.
	RefreshInterval time.Duration
	// LeaseDuration is the agent Lease's leaseDurationSeconds; 0 leaves the Lease out.
	LeaseDuration time.Duration
	// Maps are the node's reported maps (MultipathNodeState.status.maps).
	Maps []mpv1alpha1.MapStatus
}

// LUN is one allow-listed LUN.
type LUN struct {
	// WWID is compared case-insensitively with the nodes' maps.
	WWID string
	// ExpectedNodes are the names of the nodes expected to carry the LUN (see NodeSet.Expected).
	// Duplicates count once. LUNs that share one slice share the work of reading it.
	ExpectedNodes []string
}

// Severity orders states for the roll-up: failed 4, missing 3, degraded 2, unknown 1, optimal
// 0. A state outside the API's enum is unknown.
func Severity(s mpv1alpha1.MapState) int {
	switch s {
	case mpv1alpha1.MapOptimal:
		return 0
	case mpv1alpha1.MapDegraded:
		return 2
	case mpv1alpha1.MapMissing:
		return 3
	case mpv1alpha1.MapFailed:
		return 4
	}
	return 1
}

// Worse returns the worse of two states (a when they are equally bad).
func Worse(a, b mpv1alpha1.MapState) mpv1alpha1.MapState {
	if Severity(b) > Severity(a) {
		return b
	}
	return a
}

// NodeTrusted reports whether the node's report can be believed at now; when not, it says
// why. A node is trusted only when it is Ready, its agent has reported, and its heartbeat is at
// most StaleAfter refresh intervals old (and, when LeaseDuration is set, within the Lease). A
// heartbeat more than StaleAfter intervals in the future is not believed either (a clock that
// far off makes the age meaningless); a smaller skew is tolerated.
func NodeTrusted(n *Node, now time.Time) (bool, string) {
	switch {
	case !n.Ready:
		return false, "node is not Ready"
	case !n.Reported:
		return false, "agent has not reported"
	case n.LastHeartbeat.IsZero():
		return false, "agent has no heartbeat"
	case n.RefreshInterval <= 0 || n.RefreshInterval > math.MaxInt64/StaleAfter:
		return false, "agent refresh interval is not valid"
	}
	window := StaleAfter * n.RefreshInterval
	age := now.Sub(n.LastHeartbeat)
	switch {
	case age > window:
		return false, "agent report is older than " + strconv.Itoa(StaleAfter) + " refresh intervals"
	case age < -window:
		return false, "agent heartbeat is in the future"
	case n.LeaseDuration > 0 && age > n.LeaseDuration:
		return false, "agent Lease has expired"
	}
	return true, ""
}

// reported reads one map reported by a trusted node. Anything an agent of ours would not write
// is clamped to unknown: a state outside optimal/degraded/failed/unknown, negative counts, more
// active than total paths, and "optimal" without at least two paths all active.
func reported(m *mpv1alpha1.MapStatus) (mpv1alpha1.MapState, int32, int32) {
	a, t := m.ActivePaths, m.TotalPaths
	if a < 0 || t < 0 || a > t {
		return mpv1alpha1.MapUnknown, 0, 0
	}
	switch m.State {
	case mpv1alpha1.MapOptimal:
		if t < 2 || a != t {
			return mpv1alpha1.MapUnknown, 0, 0
		}
	case mpv1alpha1.MapDegraded, mpv1alpha1.MapFailed, mpv1alpha1.MapUnknown:
	default:
		return mpv1alpha1.MapUnknown, 0, 0
	}
	return m.State, a, t
}

// NodeState is the state of the LUN with this WWID on one node: unknown when the node is not
// trusted (NodeTrusted) or reports the WWID more than once, missing when it does not report it,
// else the reported state (clamped to unknown when malformed). Counts are those reported, zero
// for missing and unknown. Rollup applies the same rules to every expected node at once; this
// is the one-cell form, for the LUN x node matrix.
func NodeState(n *Node, wwid string, now time.Time) mpv1alpha1.NodeHealth {
	h := mpv1alpha1.NodeHealth{Node: n.Name, State: mpv1alpha1.MapUnknown}
	if ok, _ := NodeTrusted(n, now); !ok {
		return h
	}
	found := -1
	for i := range n.Maps {
		if equalFoldASCII(n.Maps[i].WWID, wwid) {
			if found >= 0 {
				return h // the same WWID twice: the report contradicts itself
			}
			found = i
		}
	}
	if found < 0 {
		h.State = mpv1alpha1.MapMissing
		return h
	}
	h.State, h.ActivePaths, h.TotalPaths = reported(&n.Maps[found])
	return h
}

// less orders NodeHealth entries worst first, then by node name.
func less(a, b *mpv1alpha1.NodeHealth) bool {
	if sa, sb := Severity(a.State), Severity(b.State); sa != sb {
		return sa > sb
	}
	return a.Node < b.Node
}

// accum gathers one LUN's cells.
type accum struct {
	counts mpv1alpha1.HealthCounts
	worst  mpv1alpha1.MapState
	non    []mpv1alpha1.NodeHealth // sorted by less, at most MaxNonOptimal
}

func (a *accum) add(h mpv1alpha1.NodeHealth) {
	count(&a.counts, h.State)
	if a.worst == "" {
		a.worst = h.State
	} else {
		a.worst = Worse(a.worst, h.State)
	}
	if h.State == mpv1alpha1.MapOptimal {
		return
	}
	if len(a.non) == MaxNonOptimal && !less(&h, &a.non[MaxNonOptimal-1]) {
		return
	}
	if a.non == nil {
		a.non = make([]mpv1alpha1.NodeHealth, 0, 4)
	}
	i, _ := slices.BinarySearchFunc(a.non, h, func(e, t mpv1alpha1.NodeHealth) int {
		if less(&e, &t) {
			return -1
		}
		return 1
	})
	if len(a.non) == MaxNonOptimal {
		a.non = a.non[:MaxNonOptimal-1]
	}
	a.non = slices.Insert(a.non, i, h)
}

func (a *accum) result(expected int) mpv1alpha1.LUNHealth {
	out := mpv1alpha1.LUNHealth{
		State:      a.worst,
		Nodes:      strconv.Itoa(int(a.counts.Optimal)) + "/" + strconv.Itoa(expected),
		Counts:     a.counts,
		NonOptimal: a.non,
	}
	if expected == 0 {
		out.State = mpv1alpha1.MapUnknown // expected nowhere: nothing vouches for it
	}
	return out
}

// expectedSet is a LUN's expected nodes: a bitset over the node index, and the names that no
// Node describes (they are unknown).
type expectedSet struct {
	bits    []uint64
	unnamed []string
	count   int
}

type sliceKey struct {
	first *string
	n     int
}

// Rollup rolls each LUN up over its expected nodes; the result is index-aligned with luns.
//
// Per expected node: unknown when the node is not trusted, is not among nodes, is listed twice
// in nodes, or reports the WWID twice; missing when it is trusted and does not report the WWID;
// else the state it reports, clamped to unknown when malformed (see NodeState). The LUN's state
// is the worst (see Severity); a LUN expected nowhere is unknown. Nodes is "optimal/expected";
// Counts counts the expected nodes by state; NonOptimal lists at most MaxNonOptimal of them,
// worst first, then by name. Nodes that carry the map without being expected are not counted.
//
// Cost: one pass over every reported map of every trusted node, plus one pass over each
// distinct expected-node slice (LUNs sharing a slice share that pass), plus one bit per
// LUN x node. It reads no clock: now is the caller's.
func Rollup(luns []LUN, nodes []Node, now time.Time) []mpv1alpha1.LUNHealth {
	words := (len(nodes) + 63) / 64

	// Nodes by name. A name listed twice is untrusted: its reports contradict each other.
	nodeIdx := make(map[string]int, len(nodes))
	trusted := make([]bool, len(nodes))
	primary := make([]bool, len(nodes))
	for i := range nodes {
		if j, dup := nodeIdx[nodes[i].Name]; dup {
			trusted[j] = false
			continue
		}
		nodeIdx[nodes[i].Name] = i
		primary[i] = true
		trusted[i], _ = NodeTrusted(&nodes[i], now)
	}

	// Expected sets, read once per distinct slice.
	sets := make([]*expectedSet, len(luns))
	cache := make(map[sliceKey]*expectedSet)
	empty := &expectedSet{}
	for l := range luns {
		names := luns[l].ExpectedNodes
		if len(names) == 0 {
			sets[l] = empty
			continue
		}
		key := sliceKey{&names[0], len(names)}
		s, ok := cache[key]
		if !ok {
			s = newExpectedSet(names, nodeIdx, words)
			cache[key] = s
		}
		sets[l] = s
	}

	// LUNs by lower-cased WWID; next chains LUNs that share a WWID (malformed, but each still
	// gets its own result).
	lunIdx := make(map[string]int32, len(luns))
	next := make([]int32, len(luns))
	for l := range luns {
		next[l] = -1
		k := lowerASCII(luns[l].WWID)
		if first, ok := lunIdx[k]; ok {
			for next[first] >= 0 {
				first = next[first]
			}
			next[first] = int32(l)
			continue
		}
		lunIdx[k] = int32(l)
	}

	acc := make([]accum, len(luns))
	seen := make([]uint64, len(luns)*words)

	// Node by node: every map a trusted node reports, matched to its LUN.
	slot := make([]int32, len(luns))
	for i := range slot {
		slot[i] = -1
	}
	var touched []int32
	var buf []byte
	for n := range nodes {
		if !primary[n] || !trusted[n] {
			continue
		}
		maps := nodes[n].Maps
		for i := range maps {
			l, ok := lookup(lunIdx, maps[i].WWID, &buf)
			if !ok {
				continue
			}
			if slot[l] == -1 {
				slot[l] = int32(i)
				touched = append(touched, l)
			} else {
				slot[l] = -2
			}
		}
		w, bit := n/64, uint64(1)<<(n%64)
		for _, l := range touched {
			h := mpv1alpha1.NodeHealth{Node: nodes[n].Name, State: mpv1alpha1.MapUnknown}
			if i := slot[l]; i >= 0 {
				h.State, h.ActivePaths, h.TotalPaths = reported(&maps[i])
			}
			for lx := l; lx >= 0; lx = next[lx] {
				if sets[lx].bits != nil && sets[lx].bits[w]&bit != 0 {
					acc[lx].add(h)
					seen[int(lx)*words+w] |= bit
				}
			}
			slot[l] = -1
		}
		touched = touched[:0]
	}

	// LUN by LUN: expected nodes that reported nothing for it.
	out := make([]mpv1alpha1.LUNHealth, len(luns))
	for l := range luns {
		s := sets[l]
		for w := range s.bits {
			rest := s.bits[w] &^ seen[l*words+w]
			for rest != 0 {
				n := w*64 + bits.TrailingZeros64(rest)
				rest &= rest - 1
				st := mpv1alpha1.MapUnknown
				if trusted[n] {
					st = mpv1alpha1.MapMissing
				}
				acc[l].add(mpv1alpha1.NodeHealth{Node: nodes[n].Name, State: st})
			}
		}
		for _, name := range s.unnamed {
			acc[l].add(mpv1alpha1.NodeHealth{Node: name, State: mpv1alpha1.MapUnknown})
		}
		out[l] = acc[l].result(s.count)
	}
	return out
}

func newExpectedSet(names []string, nodeIdx map[string]int, words int) *expectedSet {
	s := &expectedSet{bits: make([]uint64, words)}
	var unnamed map[string]struct{}
	for _, name := range names {
		if n, ok := nodeIdx[name]; ok {
			if s.bits[n/64]&(1<<(n%64)) == 0 {
				s.bits[n/64] |= 1 << (n % 64)
				s.count++
			}
			continue
		}
		if unnamed == nil {
			unnamed = make(map[string]struct{})
		}
		if _, dup := unnamed[name]; !dup {
			unnamed[name] = struct{}{}
			s.unnamed = append(s.unnamed, name)
			s.count++
		}
	}
	return s
}

// WWIDs are compared ASCII-case-insensitively: the API admits only [a-zA-Z0-9._:-], and
// multipathd prints hex digits, "eui." and target names.

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func foldASCII(b []byte) {
	for j, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[j] = c + ('a' - 'A')
		}
	}
}

// lowerASCII returns s with ASCII upper case folded, allocating only when s has upper case.
func lowerASCII(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	b := []byte(s)
	foldASCII(b)
	return string(b)
}

// lookup finds s in idx, keyed by lowerASCII, without allocating: a folded copy goes to *buf,
// reused across calls, and string(*buf) in a map index does not copy. The keys hold no upper
// case, so a direct hit is a match and only a miss needs folding.
func lookup(idx map[string]int32, s string, buf *[]byte) (int32, bool) {
	if l, ok := idx[s]; ok || !hasUpperASCII(s) {
		return l, ok
	}
	*buf = append((*buf)[:0], s...)
	foldASCII(*buf)
	l, ok := idx[string(*buf)]
	return l, ok
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// CountLUNs counts LUNs by rolled-up state, for MultipathConfig status.lunHealth. A state
// outside the enum counts as unknown.
func CountLUNs(hs []mpv1alpha1.LUNHealth) mpv1alpha1.HealthCounts {
	var c mpv1alpha1.HealthCounts
	for i := range hs {
		count(&c, hs[i].State)
	}
	return c
}

// count adds one to s's counter; a state outside the enum counts as unknown.
func count(c *mpv1alpha1.HealthCounts, s mpv1alpha1.MapState) {
	switch s {
	case mpv1alpha1.MapOptimal:
		c.Optimal++
	case mpv1alpha1.MapDegraded:
		c.Degraded++
	case mpv1alpha1.MapFailed:
		c.Failed++
	case mpv1alpha1.MapMissing:
		c.Missing++
	default:
		c.Unknown++
	}
}
