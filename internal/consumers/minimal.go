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

package consumers

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Minimal returns a copy of pv with only what this package and the render controller read:
// name, uid, resourceVersion, the WWID annotation, spec.fc.wwids, spec.local.path,
// spec.csi.volumeAttributes, spec.csi.volumeHandle when it names a WWID, and spec.nodeAffinity (and the type meta). Everything else, other
// annotations (kubectl's last-applied-configuration among them), labels, managed fields, the
// claim, capacity, status, is dropped. The result is for reading only: never update an object
// with it. Minimal(Minimal(pv)) equals Minimal(pv); Minimal(nil) is nil.
func Minimal(pv *corev1.PersistentVolume) *corev1.PersistentVolume {
	if pv == nil {
		return nil
	}
	out := &corev1.PersistentVolume{
		TypeMeta: pv.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:            pv.Name,
			UID:             pv.UID,
			ResourceVersion: pv.ResourceVersion,
		},
	}
	if a, ok := pv.Annotations[mpv1alpha1.WWIDAnnotation]; ok {
		out.Annotations = map[string]string{mpv1alpha1.WWIDAnnotation: a}
	}
	if fc := pv.Spec.FC; fc != nil && len(fc.WWIDs) > 0 {
		out.Spec.FC = &corev1.FCVolumeSource{WWIDs: slices.Clone(fc.WWIDs)}
	}
	if local := pv.Spec.Local; local != nil && local.Path != "" {
		out.Spec.Local = &corev1.LocalVolumeSource{Path: local.Path}
	}
	if csi := pv.Spec.CSI; csi != nil {
		var handle string
		volumeHandle(csi.VolumeHandle, func(ref) { handle = csi.VolumeHandle })
		if handle != "" || len(csi.VolumeAttributes) > 0 {
			out.Spec.CSI = &corev1.CSIPersistentVolumeSource{VolumeHandle: handle, VolumeAttributes: maps.Clone(csi.VolumeAttributes)}
		}
	}
	out.Spec.NodeAffinity = pv.Spec.NodeAffinity.DeepCopy()
	return out
}

// Transform is Minimal as a cache transform function (the signature of client-go's
// cache.TransformFunc), for cache.Options.ByObject[&corev1.PersistentVolume{}].Transform. Anything
// that is not a *corev1.PersistentVolume, such as a deletion tombstone, is returned unchanged. It
// is idempotent, as transforms must be.
func Transform(obj any) (any, error) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		return Minimal(pv), nil
	}
	return obj, nil
}
