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
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Found on a real node (make e2e): a path failure reached the node's status about 1.3 s after
// the kernel failed the path, 1 s of it the uevent listener's quiet time. With early set, the
// first event of a burst is acted on at once, and the trailing pass still follows the burst.
// The test runs in a synctest bubble: its clock moves only when every goroutine waits, so a
// loaded machine cannot stretch the burst past the quiet time.
func TestDebouncerFiresEarlyOnTheFirstKickAndAfterTheBurst(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		early     time.Duration
		wantFirst bool // a fire well before the quiet time has passed
	}{
		"with early, the first kick fires soon":    {early: 20 * time.Millisecond, wantFirst: true},
		"without early, only after the quiet time": {early: 0, wantFirst: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var fired atomic.Int32
				var last atomic.Int64 // when the last fire came, since the first kick
				start := time.Now()
				d := newDebouncer(400*time.Millisecond, func() { fired.Add(1); last.Store(int64(time.Since(start))) })
				d.early = tc.early
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go d.run(ctx)
				// A burst of kicks over 150 ms.
				for range 4 {
					d.Kick()
					time.Sleep(50 * time.Millisecond)
				}
				synctest.Wait()
				if got := fired.Load() == 1; got != tc.wantFirst {
					t.Errorf("fires during the burst: %d, want an early one: %v", fired.Load(), tc.wantFirst)
				}
				time.Sleep(600 * time.Millisecond)
				synctest.Wait()
				want := int32(1)
				if tc.wantFirst {
					want = 2
				}
				if got := fired.Load(); got != want {
					t.Errorf("fires after the burst: %d, want %d (one per burst, plus the early one)", got, want)
				}
				// The last kick came at 150 ms: the quiet time runs from there.
				if got := time.Duration(last.Load()); got != 550*time.Millisecond {
					t.Errorf("the trailing fire came %v after the first kick, want 550ms (the quiet time after the last kick)", got)
				}
			})
		})
	}
}
