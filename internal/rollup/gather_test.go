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

package rollup

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/scheme"
)

// With GatherOptions.PV, the consumer volumes are the lookup's own objects, not Gets.
func TestGatherReadsVolumesThroughPV(t *testing.T) {
	w := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "lun"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: wwid},
		Status: mpv1alpha1.MultipathWWIDStatus{Consumers: []string{"pv-a", "pv-gone"}, ConsumerCount: 2}}
	// The API holds another pv-a: Gather must not read it.
	apiPV := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-a"}}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(w, apiPV).Build()
	cached := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-a"}, Spec: corev1.PersistentVolumeSpec{
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{}}}}
	var asked []string
	lookup := func(name string) (*corev1.PersistentVolume, error) {
		asked = append(asked, name)
		if name == "pv-a" {
			return cached, nil
		}
		return nil, nil
	}
	in, err := Gather(context.Background(), c, GatherOptions{Namespace: "ns", PV: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 {
		t.Errorf("looked up %v, want both consumers", asked)
	}
	if len(in.PVs) != 1 || in.PVs["pv-a"] != cached {
		t.Errorf("PVs = %v, want pv-a as the lookup's object and pv-gone left out", in.PVs)
	}

	boom := errors.New("boom")
	_, err = Gather(context.Background(), c, GatherOptions{Namespace: "ns", PV: func(string) (*corev1.PersistentVolume, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("a failed lookup: got %v, want it returned", err)
	}
}
