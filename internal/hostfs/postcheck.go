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

// The post-check: after multipathd reconfigured, every map that must stay is there under the
// name it must have, and the daemon has finished.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// requiredMaps are the maps the post-check wants back, WWID to name: every usable map (every
// map when usable is nil), except those of WWIDs the apply removes on purpose.
func requiredMaps(before []multipathd.Map, removed []string, usable func(multipathd.Map) bool) map[string]string {
	out := map[string]string{}
	for _, m := range before {
		if m.UUID == "" || slices.Contains(removed, m.UUID) {
			continue
		}
		if usable != nil && !usable(m) {
			continue
		}
		out[m.UUID] = m.Name
	}
	return out
}

// postCheckWant is what the post-check waits for.
type postCheckWant struct {
	// required are the maps that must still exist, WWID to name (requiredMaps).
	required map[string]string
	// names are the names maps that existed must have, WWID to name (expectedNames).
	names map[string]string
	// rendered are the managed WWIDs' rendered names: a managed map that exists must carry its.
	rendered map[string]string
}

// previousNames are the managed WWIDs' names in the baseline on disk before the apply.
func (h *Host) previousNames(st *hostState) map[string]string {
	s := st.files[ConfDir+"/"+baselineName]
	if !s.Exists {
		return nil
	}
	if w := h.written; w != nil && w.Names != nil {
		// The baseline this Host wrote last, byte for byte: its config's names (Render's, which
		// NamesOfBaseline reads back), without parsing 1.5 MB at 10,000 LUNs again.
		if content, ok := w.File(baselineName); ok && content == string(s.Content) {
			return w.Names
		}
	}
	return multipathconf.NamesOfBaseline(string(s.Content))
}

// expectedNames are the names every map that exists before the apply must have after it: its
// rendered name when the config manages its WWID (a changed alias renames it on purpose), its
// name of now otherwise, so that a map the operator does not manage never changes name. A map
// whose WWID the previous baseline managed and this one does not is left out: the host names
// it from now on (the apply refuses beforehand when that name would differ).
func expectedNames(before []multipathd.Map, previous, rendered map[string]string) map[string]string {
	out := make(map[string]string, len(before))
	for _, m := range before {
		switch name, managed := rendered[m.UUID]; {
		case m.UUID == "":
		case managed:
			out[m.UUID] = name
		case previous[m.UUID] != "":
		default:
			out[m.UUID] = m.Name
		}
	}
	return out
}

// postCheck waits for multipathd to have run the reconfigure (show daemon idle, with no
// reconfigure pending, before and after the maps are read), then checks the maps: every
// required map exists, every map that existed has the name expectedNames gives it, and every
// managed map has its rendered name. It polls until they do or PostCheckTimeout passes.
func (h *Host) postCheck(ctx context.Context, want postCheckWant) error {
	interval := h.PostCheckInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	settleTimeout := h.SettleTimeout
	if settleTimeout <= 0 {
		settleTimeout = 30 * time.Second
	}
	deadline := time.Now().Add(settleTimeout) // until the daemon first settles
	settledOnce := false
	daemonState := true // false once the daemon says it does not know "show daemon"
	for first := true; ; first = false {
		var lastErr error
		settled, err := h.daemonSettled(ctx, &daemonState, first)
		switch {
		case err != nil:
			lastErr = err
		case !settled:
			lastErr = errors.New("multipathd has not finished reconfiguring (show daemon is not idle, or a reconfigure is pending)")
		default:
			if !settledOnce {
				settledOnce, deadline = true, time.Now().Add(h.PostCheckTimeout)
			}
			lastErr = h.checkMaps(ctx, want)
			if lastErr == nil && daemonState {
				// Idle again after the maps were read: no reconfigure started meanwhile.
				if settled, err := h.daemonSettled(ctx, &daemonState, false); err != nil {
					lastErr = err
				} else if !settled {
					lastErr = errors.New("multipathd started reconfiguring while the maps were read")
				}
			}
			if lastErr == nil {
				return nil
			}
		}
		if !time.Now().Add(interval).Before(deadline) {
			return lastErr
		}
		if err := sleep(ctx, interval); err != nil {
			return errors.Join(lastErr, err)
		}
	}
}

// daemonSettled asks "show daemon" whether multipathd is idle with nothing pending. A daemon
// that does not know the command (a stand-in; every tested release knows it) is waited for
// SettleDelay once instead, and counted as settled from then on.
func (h *Host) daemonSettled(ctx context.Context, known *bool, first bool) (bool, error) {
	if *known {
		reply, err := h.Client.Command(ctx, "show", "daemon")
		if err == nil {
			st, err := multipathd.ParseDaemonState(reply)
			if err != nil {
				return false, err
			}
			return st.Settled(), nil
		}
		if !errors.Is(err, multipathd.ErrUnknownCommandReply) {
			return false, err
		}
		*known = false
	}
	if first {
		return true, sleep(ctx, h.SettleDelay)
	}
	return true, nil
}

// checkMaps reads the maps and compares them with want.
func (h *Host) checkMaps(ctx context.Context, want postCheckWant) error {
	maps, err := multipathd.ShowMaps(ctx, h.Client)
	if err != nil {
		return err
	}
	present := make(map[string]string, len(maps))
	for _, m := range maps {
		present[m.UUID] = m.Name
	}
	var problems []string
	for wwid, name := range want.required {
		if _, ok := present[wwid]; !ok {
			problems = append(problems, fmt.Sprintf("%s (%s) is gone", name, wwid))
		}
	}
	for wwid, now := range present {
		if name, ok := want.names[wwid]; ok && now != name {
			problems = append(problems, fmt.Sprintf("%s is named %s, want %s", wwid, now, name))
		} else if name, ok := want.rendered[wwid]; ok && now != name && want.names[wwid] == "" {
			problems = append(problems, fmt.Sprintf("%s is named %s, want its rendered name %s", wwid, now, name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return fmt.Errorf("%w: %s", ErrPostCheck, strings.Join(problems, ", "))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
