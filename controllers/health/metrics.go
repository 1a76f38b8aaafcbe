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
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/rollup"
)

var (
	lunsByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kube_multipath_luns",
		Help: "Allow-listed LUNs by health rolled up over the nodes expected to carry them (worst wins): optimal, degraded, failed, missing, unknown.",
	}, []string{"state"})
	nodesApplyFailing = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_multipath_nodes_apply_failing",
		Help: "Nodes whose last apply of the rendered config failed and was rolled back (MultipathNodeState Degraded=True).",
	})
	nodesHostConflict = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_multipath_nodes_host_config_conflict",
		Help: "Nodes whose own multipath configuration contradicts a managed LUN (MultipathNodeState status.hostConflicts): a blacklisted managed WWID, a managed alias taken or named differently, a map the apply would rename.",
	})
	staleReporters = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_multipath_stale_reporters",
		Help: "Managed nodes whose report is not trusted: NotReady, agent never reported, Lease missing or expired, or last renewed more than three refresh intervals ago. Their LUNs are unknown.",
	})
	rollupsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_health_rollups_total",
		Help: "Health roll-up passes. Bursts of changes coalesce; a pass also runs every refresh interval.",
	})
	statusWritesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_health_status_writes_total",
		Help: "MultipathWWID and MultipathConfig status patches by the health controller. An unchanged cluster writes none.",
	})
)

// states are the label values of kube_multipath_luns, always all exported (zero included) so
// that alerts and dashboards never see a series vanish.
var states = []mpv1alpha1.MapState{mpv1alpha1.MapOptimal, mpv1alpha1.MapDegraded, mpv1alpha1.MapFailed, mpv1alpha1.MapMissing, mpv1alpha1.MapUnknown}

func init() {
	metrics.Registry.MustRegister(lunsByState, nodesApplyFailing, nodesHostConflict, staleReporters, rollupsTotal, statusWritesTotal)
	for _, s := range states {
		lunsByState.WithLabelValues(string(s))
	}
}

// recordMetrics exports one pass's outcome.
func recordMetrics(out *rollup.Outcome) {
	c := out.LUNCounts
	for s, v := range map[mpv1alpha1.MapState]int32{
		mpv1alpha1.MapOptimal:  c.Optimal,
		mpv1alpha1.MapDegraded: c.Degraded,
		mpv1alpha1.MapFailed:   c.Failed,
		mpv1alpha1.MapMissing:  c.Missing,
		mpv1alpha1.MapUnknown:  c.Unknown,
	} {
		lunsByState.WithLabelValues(string(s)).Set(float64(v))
	}
	nodesApplyFailing.Set(float64(out.ApplyFailing))
	nodesHostConflict.Set(float64(out.HostConflicting))
	staleReporters.Set(float64(out.Untrusted))
}

// RollupsTotal reads the roll-up passes counter, for tests and the scale harness.
func RollupsTotal() float64 { return readCounter(rollupsTotal) }

// StatusWritesTotal reads the status writes counter.
func StatusWritesTotal() float64 { return readCounter(statusWritesTotal) }

// Gauges reads the three gauges: LUNs by state, nodes failing to apply, stale reporters.
func Gauges() (luns map[mpv1alpha1.MapState]float64, applyFailing, stale float64) {
	luns = make(map[mpv1alpha1.MapState]float64, len(states))
	for _, s := range states {
		luns[s] = readGauge(lunsByState.WithLabelValues(string(s)))
	}
	return luns, readGauge(nodesApplyFailing), readGauge(staleReporters)
}

func readCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func readGauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return -1
	}
	return m.GetGauge().GetValue()
}
