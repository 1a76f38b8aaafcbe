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
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
)

// Metrics, on the agent's Registry (served by its metrics endpoint).
var (
	applyTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_multipath_agent_apply_total",
		Help: "Applies of a desired config, by result: changed (files written and multipathd reconfigured), unchanged (nothing to do), failed.",
	}, []string{"result"})
	applyFailuresTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_multipath_agent_apply_failures_total",
		Help: "Failed applies, by the transaction step that failed.",
	}, []string{"step"})
	applyDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kube_multipath_agent_apply_duration_seconds",
		Help:    "Duration of an apply, from the plan to the commit or the end of the rollback.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	})
	lastSuccessfulApply = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_multipath_agent_last_successful_apply_timestamp_seconds",
		Help: "Unix time of the last apply that succeeded.",
	})
	driftCorrectionsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_agent_drift_corrections_total",
		Help: "Times owned files changed by hand were re-asserted.",
	})
	statusWritesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kube_multipath_agent_status_writes_total",
		Help: "Status writes. Zero in steady state: the status is written only when it changed.",
	})
	multipathdUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kube_multipath_agent_multipathd_up",
		Help: "1 when the last `show maps json` was read, 0 when multipathd was unreachable or answered garbage.",
	})
	// nodeMaps holds the last maps read, for the per-map and per-path gauges.
	nodeMaps = &mapsCollector{}
)

// Registry holds the agent's metrics, with the Go runtime's and the process's, as
// controller-runtime's registry does (whose package links the scheme of every built-in kind:
// internal/kubeclient).
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	Registry.MustRegister(applyTotal, applyFailuresTotal, applyDuration, lastSuccessfulApply,
		driftCorrectionsTotal, statusWritesTotal, multipathdUp, nodeMaps)
}

func observeApply(d time.Duration, res hostfs.Result, err error, now time.Time) {
	applyDuration.Observe(d.Seconds())
	var ae *hostfs.ApplyError
	switch {
	case errors.As(err, &ae):
		applyTotal.WithLabelValues("failed").Inc()
		applyFailuresTotal.WithLabelValues(string(ae.Step)).Inc()
	case err != nil:
		applyTotal.WithLabelValues("failed").Inc()
		applyFailuresTotal.WithLabelValues("Other").Inc()
	case len(res.Changed) == 0:
		applyTotal.WithLabelValues("unchanged").Inc()
		lastSuccessfulApply.Set(float64(now.Unix()))
	default:
		applyTotal.WithLabelValues("changed").Inc()
		lastSuccessfulApply.Set(float64(now.Unix()))
	}
}

var (
	mapStateDesc = prometheus.NewDesc("kube_multipath_agent_map_state",
		"1 for the map's current state (optimal, degraded, failed, unknown), one series per map.",
		[]string{"wwid", "name", "state"}, nil)
	mapPathsDesc = prometheus.NewDesc("kube_multipath_agent_map_paths",
		"Paths of a map: active (usable) or total.",
		[]string{"wwid", "kind"}, nil)
	pathStateDesc = prometheus.NewDesc("kube_multipath_agent_path_state",
		"Paths of each map that is not optimal, by device and device-mapper, checker and device states (1 a path; at most 64 paths a map), as the status lists them.",
		[]string{"wwid", "device", "dm_state", "checker_state", "device_state"}, nil)
)

// mapsCollector reports the last maps read as constant metrics at scrape time: a scrape
// sees one whole snapshot, and maps that went away leave no stale series.
type mapsCollector struct {
	mu   sync.Mutex
	maps []mpv1alpha1.MapStatus
}

func (c *mapsCollector) set(maps []mpv1alpha1.MapStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maps = maps
}

// Describe implements prometheus.Collector.
func (c *mapsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mapStateDesc
	ch <- mapPathsDesc
	ch <- pathStateDesc
}

// Collect implements prometheus.Collector. Label sets are unique, as a registry requires: a
// WWID reported twice, or several paths with the same labels (placeholder paths named "-"),
// add up.
func (c *mapsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	maps := c.maps
	c.mu.Unlock()
	type key [5]string
	states, paths, pathStates := map[key]float64{}, map[key]float64{}, map[key]float64{}
	for i := range maps {
		m := &maps[i]
		states[key{m.WWID, m.Name, string(m.State)}]++
		paths[key{m.WWID, "active"}] += float64(m.ActivePaths)
		paths[key{m.WWID, "total"}] += float64(m.TotalPaths)
		for _, p := range m.Paths {
			pathStates[key{m.WWID, p.Device, p.DMState, p.CheckerState, p.DeviceState}]++
		}
	}
	for k, v := range states {
		ch <- prometheus.MustNewConstMetric(mapStateDesc, prometheus.GaugeValue, v, k[0], k[1], k[2])
	}
	for k, v := range paths {
		ch <- prometheus.MustNewConstMetric(mapPathsDesc, prometheus.GaugeValue, v, k[0], k[1])
	}
	for k, v := range pathStates {
		ch <- prometheus.MustNewConstMetric(pathStateDesc, prometheus.GaugeValue, v, k[0], k[1], k[2], k[3], k[4])
	}
}
