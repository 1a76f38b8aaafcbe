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
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/conditions"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/hostconf"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/mapstatus"
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
		log.FromContext(ctx).V(1).Info("Cannot read every map's users", "err", err.Error())
		for _, u := range usage {
			if u.OpenCount < 0 && r.openCountErr == "" {
				r.openCountErr = err.Error()
				break
			}
		}
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

// reconcileHostFacts reads the host's own multipath configuration and reports where it
// contradicts the desired config. It runs on every pass (a hand edit of /etc/multipath.conf
// also wakes the agent through the FileWatcher); the status is written only when the facts
// change.
func (r *Reconciler) reconcileHostFacts(ctx context.Context, s *scope) (result, error) {
	desired := s.state.Spec.DesiredConfig
	if desired == nil {
		s.hostConflicts = []mpv1alpha1.HostConflict{}
		return result{}, nil
	}
	rendered, err := r.config(ctx, *desired)
	if err != nil {
		// Keep what was reported: the facts are unknown this pass, not gone.
		log.FromContext(ctx).Error(err, "Cannot check the host's configuration: the rendered config is unreadable", "config", desired.Name)
		return result{}, nil
	}
	cfg, err := hostconf.Read(hostconf.Options{Root: r.Host.Root, Own: ownDropIn, Version: r.version})
	if err != nil {
		log.FromContext(ctx).Error(err, "Cannot read the host's multipath configuration")
		return result{}, nil
	}
	if len(cfg.Problems) > 0 {
		log.FromContext(ctx).V(1).Info("The host's multipath configuration has problems", "problems", cfg.Problems)
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
	hc := append(cfg.Conflicts(names, maps), r.wouldRename(s, names)...)
	slices.SortStableFunc(hc, func(a, b mpv1alpha1.HostConflict) int { return cmp.Compare(a.WWID, b.WWID) })
	if len(hc) > maxHostConflicts {
		hc = hc[:maxHostConflicts]
	}
	for i := range hc {
		hc[i].Message = conditions.Truncate(hc[i].Message, 1024)
		hc[i].File = conditions.Truncate(hc[i].File, 256)
		hc[i].Alias = conditions.Truncate(hc[i].Alias, 128)
	}
	if hc == nil {
		hc = []mpv1alpha1.HostConflict{}
	}
	s.hostConflicts = hc
	return result{}, nil
}

// wouldRename returns the WouldRename host conflicts: the renames the last refused apply named
// (ApplyError.Renames, while the refusal stands: during the backoff too), and the open maps
// the host named that an earlier refusal would have adopted, for as long as the map keeps that
// name, something holds it and the desired config does not manage its WWID. The manager
// leaves such a LUN out of the render: clearing the conflict as soon as that config applies
// would have it rendered again, refused again, and so on.
func (r *Reconciler) wouldRename(s *scope, names map[string]string) []mpv1alpha1.HostConflict {
	var ae *hostfs.ApplyError
	if errors.As(s.applyErr, &ae) && errors.Is(ae.Err, hostfs.ErrWouldRename) {
		r.adoptions = r.adoptions[:0]
		out := make([]mpv1alpha1.HostConflict, 0, len(ae.Renames))
		for _, rn := range ae.Renames {
			c := wouldRenameConflict(rn)
			if rn.Users != "" {
				r.adoptions = append(r.adoptions, c)
			}
			out = append(out, c)
		}
		return out
	}
	if s.maps == nil {
		return slices.Clone(r.adoptions) // the maps are unknown this pass: the facts stand
	}
	kept := r.adoptions[:0]
	for _, c := range r.adoptions {
		if _, managed := names[c.WWID]; managed {
			continue // rendered again: the apply passed, so the map is adopted or closed
		}
		if i := slices.IndexFunc(s.maps.maps, func(m mpv1alpha1.MapStatus) bool { return m.WWID == c.WWID }); i >= 0 &&
			s.maps.maps[i].Name == c.Alias && consumers.IsOpen(&s.maps.maps[i]) {
			kept = append(kept, c)
		}
	}
	r.adoptions = kept
	return slices.Clone(kept)
}

// wouldRenameConflict says a refused rename as a host conflict: the map's name now as alias,
// and the fix in the message.
func wouldRenameConflict(rn hostfs.Rename) mpv1alpha1.HostConflict {
	c := mpv1alpha1.HostConflict{Type: mpv1alpha1.HostConflictWouldRename, WWID: rn.WWID, Alias: rn.From}
	if rn.Users == "" {
		c.Message = fmt.Sprintf("applying the config would rename map %s (WWID %s), which the operator does not manage, to %s: %s; the node keeps its config until the host's own configuration names the map as it is",
			rn.From, rn.WWID, rn.To, rn.Reason)
		return c
	}
	fix := "free it on this node (unmount it, deactivate what is stacked on it, stop what holds it open) and the operator adopts and renames it"
	if errs := multipathconf.ValidateMultipathWWIDSpec(&mpv1alpha1.MultipathWWIDSpec{WWID: rn.WWID, Alias: rn.From}, nil); len(errs) == 0 {
		fix += fmt.Sprintf(", or set the MultipathWWID's spec.alias to %q to keep the name", rn.From)
	}
	c.Message = fmt.Sprintf("managing WWID %s would rename its map %s, which the host named and which is in use (%s), to %s; the operator does not rename an open map it did not name, and leaves the LUN out of the config: %s",
		rn.WWID, rn.From, rn.Users, rn.To, fix)
	return c
}

// mapInUse says what holds m open, in words, "" when nothing does: Host.InUse, for the
// apply's refusal to adopt an open map under another name.
func (r *Reconciler) mapInUse(m multipathd.Map) string {
	st := mapstatus.FromMap(m)
	usage, _ := r.MapUsers.Read([]mapusers.Map{{Kernel: m.Sysfs, Probe: st.ActivePaths > 0}})
	u, ok := usage[m.Sysfs]
	if !ok || len(u.Users) == 0 {
		return "" // a map whose open count cannot be read and that nothing else holds counts as closed
	}
	what := make([]string, len(u.Users))
	for i, user := range u.Users {
		what[i] = consumers.DescribeUser(user)
	}
	return strings.Join(what, ", ")
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
		Message: conditions.Truncate(fmt.Sprintf("The node's own multipath configuration contradicts the desired state in %d place(s); the operator does not override it: %s.",
			len(hc), strings.Join(msgs, "; ")), maxMessage),
	})
}

// warnOpenCount says once per agent process, in its log and as an Event on the node's
// MultipathNodeState, that the maps' kernel open count cannot be read: the DaemonSet's agent
// is not privileged, and the device cgroup keeps it from /dev/mapper/control. What holds a map
// only by an open file descriptor (a VM's disk, a database on the raw device) is then not seen;
// mounts, holders, swap and LVM still are.
func (r *Reconciler) warnOpenCount(ctx context.Context, st *mpv1alpha1.MultipathNodeState) {
	if r.openCountErr == "" || r.openCountWarned || st == nil {
		return
	}
	r.openCountWarned = true
	msg := "The kernel's open count of the maps cannot be read here (" + r.openCountErr + "): a map held open only by a process (a VM disk, a database on the raw device) is not reported as in use; mounts, holders, swap and LVM physical volumes are. Run the agent privileged (config/agent-privileged) to see them."
	log.FromContext(ctx).Info("The maps' open count is not readable", "err", r.openCountErr)
	r.eventf(st, corev1.EventTypeWarning, mpv1alpha1.OpenCountUnavailableReason, "ReadMapUsers", "%s", conditions.Truncate(msg, maxMessage))
}
