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
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/hostconf"
	"github.com/kube-multipath/kube-multipath/internal/mapusers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// maxHostConflicts is status.hostConflicts' MaxItems.
const maxHostConflicts = 256

// ownDropIn tells the operator's own drop-ins from the host's.
func ownDropIn(name string) bool {
	return name == multipathconf.BaselineFileName || name == multipathconf.OverridesFileName
}

// withUsers returns statuses with each map's open count and users, as r.MapUsers reads them
// for the maps' kernel names (WWID -> dm-N). Mounts, holders and opens change without any
// uevent or multipathd change, so this runs on every pass; the statuses are shared, never
// changed in place, and a new slice is made only when a map has any.
func (r *Reconciler) withUsers(ctx context.Context, statuses []mpv1alpha1.MapStatus, kernels map[string]string) []mpv1alpha1.MapStatus {
	if r.MapUsers == nil || len(statuses) == 0 {
		return statuses
	}
	req := make([]mapusers.Map, 0, len(statuses))
	for i := range statuses {
		if k := kernels[statuses[i].WWID]; k != "" {
			// Probe the label only where I/O can complete: a map with a usable path.
			req = append(req, mapusers.Map{Kernel: k, Probe: statuses[i].ActivePaths > 0})
		}
	}
	usage, err := r.MapUsers.Read(req)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Cannot read every map's users", "err", err.Error())
	}
	var out []mpv1alpha1.MapStatus
	for i := range statuses {
		u, ok := usage[kernels[statuses[i].WWID]]
		if !ok || (u.OpenCount <= 0 && len(u.Users) == 0) {
			continue
		}
		if out == nil {
			out = make([]mpv1alpha1.MapStatus, len(statuses))
			copy(out, statuses)
		}
		out[i].OpenCount = max(u.OpenCount, 0) // -1: unknown, reported as absent
		out[i].Users = u.Users
	}
	if out == nil {
		return statuses
	}
	return out
}

// kernelNames maps each map's WWID (as the status writes it) to its kernel name.
func kernelNames(maps []multipathd.Map) map[string]string {
	out := make(map[string]string, len(maps))
	for _, m := range maps {
		if s := multipathd.ToMapStatus(m); s.WWID != "" && m.Sysfs != "" {
			out[s.WWID] = m.Sysfs
		}
	}
	return out
}

// reconcileHostFacts reads the host's own multipath configuration and reports where it
// contradicts the desired config. It runs on every pass (a hand edit of /etc/multipath.conf
// also wakes the agent through the FileWatcher); the status is written only when the facts
// change.
func (r *Reconciler) reconcileHostFacts(ctx context.Context, s *scope) (ctrl.Result, error) {
	desired := s.state.Spec.DesiredConfig
	if desired == nil {
		s.hostConflicts = []mpv1alpha1.HostConflict{}
		return ctrl.Result{}, nil
	}
	rendered, err := r.config(ctx, *desired)
	if err != nil {
		// Keep what was reported: the facts are unknown this pass, not gone.
		ctrl.LoggerFrom(ctx).Error(err, "Cannot check the host's configuration: the rendered config is unreadable", "config", desired.Name)
		return ctrl.Result{}, nil
	}
	cfg, err := hostconf.Read(hostconf.Options{Root: r.Host.Root, Own: ownDropIn, Version: r.version})
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot read the host's multipath configuration")
		return ctrl.Result{}, nil
	}
	if len(cfg.Problems) > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("The host's multipath configuration has problems", "problems", cfg.Problems)
	}
	var maps []hostconf.Map
	if s.maps != nil {
		for _, m := range s.maps.maps {
			maps = append(maps, hostconf.Map{Name: m.Name, WWID: m.WWID})
		}
	}
	names := rendered.Names
	if names == nil { // a config rendered before Names existed: read them from its files
		files := make([][]byte, 0, len(rendered.Files))
		for _, f := range rendered.Files {
			files = append(files, []byte(f.Content))
		}
		names = hostconf.ManagedNames(rendered.WWIDs, files...)
	}
	hc := cfg.Conflicts(names, maps)
	if len(hc) > maxHostConflicts {
		hc = hc[:maxHostConflicts]
	}
	for i := range hc {
		hc[i].Message = truncateTo(hc[i].Message, 1024)
		hc[i].File = truncateTo(hc[i].File, 256)
		hc[i].Alias = truncateTo(hc[i].Alias, 128)
	}
	if hc == nil {
		hc = []mpv1alpha1.HostConflict{}
	}
	s.hostConflicts = hc
	return ctrl.Result{}, nil
}

func truncateTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncate(s[:n])
}

// setHostConflicts writes status.hostConflicts and the HostConfigConflict condition, present
// only while True. hc nil means unknown this pass: both stay as they are.
func setHostConflicts(st *mpv1alpha1.MultipathNodeState, hc []mpv1alpha1.HostConflict) {
	if hc == nil {
		return
	}
	if len(hc) == 0 {
		st.Status.HostConflicts = nil
		conditions.Delete(st, mpv1alpha1.HostConfigConflictCondition)
		return
	}
	st.Status.HostConflicts = hc
	msgs := make([]string, len(hc))
	for i, c := range hc {
		msgs[i] = c.Message
	}
	conditions.Set(st, metav1.Condition{
		Type:   mpv1alpha1.HostConfigConflictCondition,
		Status: metav1.ConditionTrue,
		Reason: mpv1alpha1.HostConfigConflictReason,
		Message: truncate(fmt.Sprintf("The node's own multipath configuration contradicts the desired state in %d place(s); the operator does not override it: %s.",
			len(hc), strings.Join(msgs, "; "))),
	})
}
