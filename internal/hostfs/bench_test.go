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

package hostfs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

func manyWWIDs(n, offset int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("3600a0980383030534%015d", i+offset)
	}
	return out
}

// BenchmarkApply alternates between two configs of luns LUNs that differ by one LUN: every
// apply writes the baseline and the wwids file, reconfigures the fake daemon and post-checks.
func BenchmarkApply(b *testing.B) {
	for _, luns := range []int{10, 10000} {
		b.Run(fmt.Sprintf("luns=%d", luns), func(b *testing.B) {
			th := newHost(b)
			configs := []*multipathconf.Rendered{render(b, manyWWIDs(luns, 0)...), render(b, manyWWIDs(luns, 1)...)}
			b.ResetTimer()
			for i := range b.N {
				if _, err := th.Apply(context.Background(), configs[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyUnchanged is the steady state: the plan finds the disk as wanted.
func BenchmarkApplyUnchanged(b *testing.B) {
	for _, luns := range []int{10, 10000} {
		b.Run(fmt.Sprintf("luns=%d", luns), func(b *testing.B) {
			th := newHost(b)
			r := render(b, manyWWIDs(luns, 0)...)
			if _, err := th.Apply(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if res, err := th.Apply(context.Background(), r); err != nil || res.Reconfigured {
					b.Fatal(res, err)
				}
			}
		})
	}
}

// BenchmarkReassertUnchanged is an agent's periodic drift check on a host that holds its
// config: "read" reads the files (their stamps never trusted) and, as they are what the apply
// left, does not plan them; "stamps" compares their stamps with those of the last check that
// read them.
func BenchmarkReassertUnchanged(b *testing.B) {
	for _, luns := range []int{10, 10000} {
		for _, mode := range []string{"read", "stamps"} {
			b.Run(fmt.Sprintf("luns=%d/%s", luns, mode), func(b *testing.B) {
				th := newHost(b)
				r := render(b, manyWWIDs(luns, 0)...)
				if _, err := th.Apply(context.Background(), r); err != nil {
					b.Fatal(err)
				}
				th.racyWindow = time.Hour
				if mode == "stamps" {
					th.racyWindow = time.Nanosecond
				}
				// The first check reads the files (and records their stamps).
				if _, _, err := th.Reassert(context.Background(), r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if drift, _, err := th.Reassert(context.Background(), r); err != nil || drift != nil {
						b.Fatal(drift, err)
					}
				}
			})
		}
	}
}

// BenchmarkReconcileWWIDs is the wwids file's plan for a config of 10,000 LUNs that differs
// from the file by one LUN: the pure part of an apply, which each apply makes twice (the plan,
// then again under the file's lock).
func BenchmarkReconcileWWIDs(b *testing.B) {
	owned := manyWWIDs(10000, 0)
	p, err := ReconcileWWIDs(nil, nil, owned)
	if err != nil {
		b.Fatal(err)
	}
	desired := manyWWIDs(10000, 1)
	b.ReportAllocs()
	for b.Loop() {
		if q, err := ReconcileWWIDs(p.Content, p.Owned, desired); err != nil || len(q.Owned) != 10000 {
			b.Fatal(len(q.Owned), err)
		}
	}
}
