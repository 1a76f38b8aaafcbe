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

package sim

import (
	"math"
	"slices"
	"time"
)

// Latencies summarises a set of durations, in milliseconds.
type Latencies struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// Summarise computes the nearest-rank percentiles of ds.
func Summarise(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return Milliseconds(s[min(max(i, 0), len(s)-1)])
	}
	return Latencies{Count: len(s), P50: rank(50), P95: rank(95), P99: rank(99), Max: Milliseconds(s[len(s)-1])}
}

// Milliseconds is d in milliseconds, to two decimals.
func Milliseconds(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }
