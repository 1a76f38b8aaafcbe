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

package health_test

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/health"
	fx "github.com/kube-multipath/kube-multipath/internal/rollup/rolluptest"
)

func names(ms []health.ManagedNode) []string {
	out := make([]string, len(ms))
	for i := range ms {
		out[i] = ms[i].Name
	}
	return out
}

func TestManagedNodes(t *testing.T) {
	nodes := []corev1.Node{fx.Node("a", fx.Labelled("san", "fc")), fx.Node("b", fx.Labelled("san", "iscsi")), fx.Node("c")}
	deleting := fx.Config(nil)
	deleting.DeletionTimestamp = ptr.To(metav1.NewTime(fx.Now))
	tests := map[string]struct {
		cfg     *mpv1alpha1.MultipathConfig
		want    []string
		wantErr string
	}{
		"without a MultipathConfig no node is managed":    {cfg: nil, want: nil},
		"a MultipathConfig being deleted manages no node": {cfg: deleting, want: nil},
		"without a node selector every node is managed":   {cfg: fx.Config(nil), want: []string{"a", "b", "c"}},
		"the node selector picks the managed nodes": {
			cfg:  fx.Config(&metav1.LabelSelector{MatchLabels: map[string]string{"san": "fc"}}),
			want: []string{"a", "c"},
		},
		"an invalid node selector is reported and every node stays managed, as the rollout keeps them": {
			cfg:     fx.Config(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "san", Operator: "Near"}}}),
			want:    []string{"a", "b", "c"},
			wantErr: "spec.nodeSelector",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := health.ManagedNodes(tc.cfg, nodes)
			if g := names(got); !reflect.DeepEqual(g, tc.want) && !(len(g) == 0 && len(tc.want) == 0) {
				t.Errorf("managed = %v, want %v", g, tc.want)
			}
			if (err != nil) != (tc.wantErr != "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
