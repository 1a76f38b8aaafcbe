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

package multipathconf

import (
	"strconv"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

var benchSizes = []int{100, 1000, 10000, 50000}

// BenchmarkRender renders LUNs with an alias and three knobs each, and typed defaults. Compare
// ns/op per LUN across sizes to see that rendering is linear.
func BenchmarkRender(b *testing.B) {
	config := clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) {
		d.NoPathRetry, d.PollingInterval, d.PathChecker = intOrStr("queue"), i32(10), "tur"
	}))
	for _, n := range benchSizes {
		luns := manyLUNs(n)
		b.Run(strconv.Itoa(n)+"-LUNs", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(config, luns); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/LUN")
		})
	}
}

// BenchmarkRenderWithOverrides adds the realistic overrides, whose blacklist wwid patterns are
// matched against every allow-listed WWID.
func BenchmarkRenderWithOverrides(b *testing.B) {
	config := clusterConfig(withOverrides(realisticOverrides))
	for _, n := range []int{1000, 10000} {
		luns := manyLUNs(n)
		b.Run(strconv.Itoa(n)+"-LUNs", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(config, luns); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResolveConflicts(b *testing.B) {
	luns := manyLUNs(10000)
	b.ReportAllocs()
	for b.Loop() {
		ResolveConflicts(luns)
	}
}

func BenchmarkPack(b *testing.B) {
	r := mustRender(b, nil, manyLUNs(10000))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Pack(r); err != nil {
			b.Fatal(err)
		}
	}
}
