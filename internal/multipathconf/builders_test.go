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

package multipathconf

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Test object builders with functional options.

type lunOption func(*mpv1alpha1.MultipathWWID)

// lun builds a MultipathWWID named name for wwid.
func lun(name, wwid string, opts ...lunOption) mpv1alpha1.MultipathWWID {
	w := mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: wwid},
	}
	for _, o := range opts {
		o(&w)
	}
	return w
}

func withAlias(alias string) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = alias }
}

func withLUNKnobs(set func(*mpv1alpha1.LUNKnobs)) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) { set(&w.Spec.LUNKnobs) }
}

// createdAt sets the creationTimestamp to second s of a fixed day.
func createdAt(s int) lunOption {
	return func(w *mpv1alpha1.MultipathWWID) {
		w.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC).Add(time.Duration(s) * time.Second))
	}
}

func deleting() lunOption {
	return func(w *mpv1alpha1.MultipathWWID) {
		now := metav1.NewTime(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
		w.DeletionTimestamp = &now
		w.Finalizers = []string{mpv1alpha1.InUseFinalizer}
	}
}

type configOption func(*mpv1alpha1.MultipathConfig)

// clusterConfig builds the MultipathConfig singleton.
func clusterConfig(opts ...configOption) *mpv1alpha1.MultipathConfig {
	c := &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func withDefaults(set func(*mpv1alpha1.MultipathDefaults)) configOption {
	return func(c *mpv1alpha1.MultipathConfig) { set(&c.Spec.Defaults) }
}

func withOverrides(text string) configOption {
	return func(c *mpv1alpha1.MultipathConfig) { c.Spec.Overrides = text }
}

func named(name string) configOption {
	return func(c *mpv1alpha1.MultipathConfig) { c.Name = name }
}

func i32(n int32) *int32 { return &n }

func boolPtr(b bool) *bool { return &b }

func intOrInt(n int) *intstr.IntOrString {
	v := intstr.FromInt32(int32(n))
	return &v
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.FromString(s)
	return &v
}
