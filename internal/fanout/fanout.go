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

// Package fanout runs a controller pass's independent API writes a few at a time. Writes of
// thousands of objects (a GitOps sync of 10,000 LUNs, a config handed to 1,000 nodes) are bound
// by the round trip when made one by one; a few in flight use the client's rate limit fully,
// which stays the bound (test/scale measured both; docs/performance.md).
package fanout

import (
	"context"
	"sync"
)

// Writers is how many writes a pass keeps in flight.
const Writers = 8

// MaxWritesPerPass bounds the object writes of one controller pass (about 4 s at the manager's
// default 100 requests per second): a pass with more to write does the most urgent ones and
// leaves the rest to the next pass, which recomputes them from fresh state rather than writing
// intermediate ones that are already stale.
const MaxWritesPerPass = 400

// Each calls write(ctx, i) for every i in [0, n), Writers at a time, starting them in order, and
// returns their errors. Each call must touch its own object.
func Each(ctx context.Context, n int, write func(context.Context, int) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(Writers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := write(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}
