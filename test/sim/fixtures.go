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

package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/wave"
)

// WWID is the i-th simulated LUN's WWID: NAA-6 identifiers of one array share their prefix, as
// real ones do (which is also what keeps 50,000 of them within one ConfigMap).
func WWID(i int) string { return fmt.Sprintf("3600a098038303053453f46%010x", i) }

// Alias is the i-th simulated LUN's alias.
func Alias(i int) string { return fmt.Sprintf("lun-%05d", i) }

// LUN is the i-th simulated MultipathWWID.
func LUN(i int) *mpv1alpha1.MultipathWWID {
	return &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: Alias(i)},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: WWID(i), Alias: Alias(i)},
	}
}

// PV is a Fibre Channel PersistentVolume consuming the i-th LUN (one of the six consumer forms;
// the cheapest to create).
func PV(i int) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pv-%05d", i)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				FC: &corev1.FCVolumeSource{WWIDs: []string{WWID(i)}, FSType: "xfs"},
			},
		},
	}
}

// ClusterConfig is the MultipathConfig selecting every simulated node, rolled out to
// maxUnavailable of them at once.
func ClusterConfig(maxUnavailable string) *mpv1alpha1.MultipathConfig {
	return &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{SANLabel: "true"}},
			Defaults:     mpv1alpha1.MultipathDefaults{LUNKnobs: mpv1alpha1.LUNKnobs{NoPathRetry: ptr.To(intstr.FromString("queue"))}},
			Rollout:      mpv1alpha1.RolloutPolicy{MaxUnavailable: ptr.To(intstr.Parse(maxUnavailable))},
		},
	}
}

// CreateAll creates objs with up to workers requests in flight (objects that exist are left).
func CreateAll[T client.Object](ctx context.Context, c client.Client, objs []T, workers int) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan T)
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				if err := createRetrying(ctx, c, o); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("creating %s: %w", o.GetName(), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	return firstErr
}

// createRetrying creates o, retrying the API server's throttling and restarts for a minute.
func createRetrying(ctx context.Context, c client.Client, o client.Object) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.Create(ctx, o)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LUNs returns n simulated MultipathWWIDs from the from-th.
func LUNs(from, n int) []*mpv1alpha1.MultipathWWID {
	out := make([]*mpv1alpha1.MultipathWWID, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, LUN(i))
	}
	return out
}

// PVs returns PersistentVolumes consuming LUNs from..from+n-1.
func PVs(from, n int) []*corev1.PersistentVolume {
	out := make([]*corev1.PersistentVolume, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, PV(i))
	}
	return out
}

// ReadWave reads the rollout wave from its ConfigMap in namespace; nil when there is none.
// (Not in internal/wave: that package is the agent's, which imports no controller-runtime client.)
func ReadWave(ctx context.Context, c client.Reader, namespace string) (*wave.Wave, error) {
	cm := &corev1.ConfigMap{}
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: wave.Name}, cm); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read the rollout wave: %w", err)
	}
	return wave.FromConfigMap(cm)
}
