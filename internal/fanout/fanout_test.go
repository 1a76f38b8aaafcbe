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

package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachCallsEveryIndexOnceAndBoundsConcurrency(t *testing.T) {
	const n = 100
	var calls [n]atomic.Int32
	var inFlight, peak atomic.Int32
	errs := Each(context.Background(), n, func(_ context.Context, i int) error {
		cur := inFlight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		calls[i].Add(1)
		if i%10 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	for i := range calls {
		if got := calls[i].Load(); got != 1 {
			t.Errorf("index %d called %d times, want 1", i, got)
		}
	}
	if len(errs) != 10 {
		t.Errorf("got %d errors, want 10", len(errs))
	}
	if p := peak.Load(); p > Writers || p < 2 {
		t.Errorf("peak concurrency %d, want 2..%d", p, Writers)
	}
}

func TestEachWithNothingToDo(t *testing.T) {
	if errs := Each(context.Background(), 0, func(context.Context, int) error { t.Fatal("called"); return nil }); len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
}
