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

	"k8s.io/apimachinery/pkg/types"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
)

// What the agent watches (Start): this node's MultipathNodeState without its map report
// (TrimOwnState), and the ConfigMaps the operator writes in its namespace (managedBy: the
// rendered configs, each reaching every node once, when created, and the rollout wave,
// internal/wave).
const managedBy = "app.kubernetes.io/managed-by=kube-multipath"

// TrimOwnState is the watch's transform of the agent's MultipathNodeState: it drops the map
// report (status.maps), and the managed fields as the default transform does. The report is
// what the agent itself wrote, most of the object (1.1 MiB of JSON at 10,000 maps), and the
// agent keeps what it last wrote (Reconciler.reported); a cached copy of it, and the copy each
// cache read made of it, were two more copies of the report in the agent's memory.
func TrimOwnState(obj any) (any, error) {
	s, ok := obj.(*mpv1alpha1.MultipathNodeState)
	if !ok {
		return obj, nil
	}
	s.Status.Maps = nil
	return kubeclient.StripManagedFields(s)
}

// reportRecord is the map report the agent last wrote to the MultipathNodeState of uid: the
// cache holds none (TrimOwnState). Its maps are shared with the pass that wrote them and never
// changed in place (the report's slices are built anew when anything in them changes).
type reportRecord struct {
	uid  types.UID
	maps []mpv1alpha1.MapStatus
}

// restoreReport puts the report last written into st, read from the cache without it, so that
// the pass compares with and keeps what the API server holds. The first pass after a start, or
// after the object was recreated, reads the report from the API server: an agent restarted while
// multipathd is down keeps its predecessor's report (a pass that cannot read the maps keeps
// those reported) instead of applying a status without it.
func (r *Reconciler) restoreReport(ctx context.Context, st *mpv1alpha1.MultipathNodeState) error {
	if r.reported.uid != st.UID {
		live, err := r.Kube.GetState(ctx, st.Name)
		if err != nil {
			return fmt.Errorf("failed to read the report of MultipathNodeState %s: %w", st.Name, err)
		}
		r.reported = reportRecord{uid: st.UID}
		if live.UID == st.UID {
			// Else recreated since the cache saw it: the new object has no report of this agent yet.
			r.reported.maps = live.Status.Maps
		}
	}
	st.Status.Maps = r.reported.maps
	return nil
}
