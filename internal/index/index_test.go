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

package index

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// collidingNames returns two different names of the form prefix+n in one bucket.
func collidingNames(t *testing.T, prefix string) (string, string) {
	t.Helper()
	seen := map[string]string{}
	for n := 0; n < 10*Buckets; n++ {
		name := prefix + strconv.Itoa(n)
		b := Bucket(name)
		if other, ok := seen[b]; ok {
			return other, name
		}
		seen[b] = name
	}
	t.Fatal("no two names share a bucket")
	return "", ""
}

func TestBucket(t *testing.T) {
	// The index's key and the lookup's are computed apart, from two copies of a name.
	name := "3600a098"
	if a, b := Bucket(name), Bucket(strings.Clone(name)); a != b {
		t.Errorf("Bucket(%q) = %q, then %q", name, a, b)
	}
	used := map[string]bool{}
	for n := range 20000 {
		b := Bucket(fmt.Sprintf("3600a0980000%06d", n))
		v, err := strconv.ParseUint(b, 16, 32)
		if err != nil || v >= Buckets {
			t.Fatalf("Bucket = %q, want a hex number under %d", b, Buckets)
		}
		used[b] = true
	}
	// 20,000 names spread over nearly every bucket (a few per bucket, not one set each).
	if len(used) < Buckets*99/100 {
		t.Errorf("20,000 names use %d of %d buckets", len(used), Buckets)
	}
}

func TestExtractsReturnEachBucketOnce(t *testing.T) {
	a, b := collidingNames(t, "mpath-")
	w := &mpv1alpha1.MultipathWWID{Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600A1", Alias: a},
		Status: mpv1alpha1.MultipathWWIDStatus{RenderedAlias: ptr.To(b)}}
	got := wwidNames(w)
	want := []string{Bucket("3600a1"), Bucket(a)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("wwidNames = %v, want %v (the alias and rendered alias share a bucket)", got, want)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/" + a}}}}
	if got := pvRefs(pv); len(got) != 1 || got[0] != Bucket(a) {
		t.Errorf("pvRefs = %v, want [%s]", got, Bucket(a))
	}
	if got := pvNamesAny(pv); len(got) != 1 || got[0] != "true" {
		t.Errorf("pvNamesAny = %v", got)
	}
}
