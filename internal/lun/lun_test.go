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

package lun

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func unitLUN(name, wwid, alias string, rendered *string) *mpv1alpha1.MultipathWWID {
	return &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: wwid, Alias: alias},
		Status:     mpv1alpha1.MultipathWWIDStatus{RenderedAlias: rendered},
	}
}

func TestNames(t *testing.T) {
	tests := map[string]struct {
		lun  *mpv1alpha1.MultipathWWID
		want []string
	}{
		"WWID only":                          {unitLUN("a", "3600A1", "", nil), []string{"3600a1"}},
		"WWID and alias, lowercase":          {unitLUN("a", "3600a1", "Data", nil), []string{"3600a1", "data"}},
		"an alias equal to its WWID once":    {unitLUN("a", "3600a1", "3600A1", nil), []string{"3600a1"}},
		"the rendered alias too":             {unitLUN("a", "3600a1", "new", ptr.To("old")), []string{"3600a1", "new", "old"}},
		"an empty rendered alias is no name": {unitLUN("a", "3600a1", "new", ptr.To("")), []string{"3600a1", "new"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Names(tc.lun); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
