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
	"fmt"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/hostfs"
)

// Found on a real node (make e2e): a config whose post-check found a live map gone was retried
// with the ordinary backoff, and each retry made multipathd drop that map again until the
// rollback brought it back.
func TestApplyBackoffHoldsAConfigThatLostAMap(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	lost := &hostfs.ApplyError{Step: hostfs.StepPostCheck, Err: fmt.Errorf("%w: data (3600a)", hostfs.ErrPostCheck), RolledBack: true}
	tests := map[string]struct {
		err      error
		wantHeld bool
	}{
		"a map lost and rolled back holds the config": {err: lost, wantHeld: true},
		"a map lost and not rolled back is retried (the retry finishes the rollback)": {
			err: &hostfs.ApplyError{Step: hostfs.StepPostCheck, Err: hostfs.ErrPostCheck, RollbackErr: errors.New("disk full")},
		},
		"a failed reconfigure is retried": {
			err: &hostfs.ApplyError{Step: hostfs.StepReconfigure, Err: errors.New("timeout"), RolledBack: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b applyBackoff
			b.failed("h1", tc.err, now)
			d, last := b.wait("h1", now.Add(time.Hour))
			if held := d > 0; held != tc.wantHeld {
				t.Errorf("an hour later: wait %v (held %v), want held %v", d, held, tc.wantHeld)
			}
			if tc.wantHeld && !errors.Is(last, hostfs.ErrPostCheck) {
				t.Errorf("held without its error: %v", last)
			}
			if d, _ := b.wait("h2", now); d != 0 {
				t.Errorf("another config waits %v", d)
			}
		})
	}
}
