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

package testenv

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RemoveSeeded deletes what a seed created, last first, as the garbage collector and the
// pv-protection controller would (envtest runs neither: finalizers are dropped here), and waits
// until each is gone, so that the test can seed again when it runs again (-count).
func RemoveSeeded(t testing.TB, c client.Client, objs []client.Object) {
	t.Helper()
	ctx := context.Background()
	for i := len(objs) - 1; i >= 0; i-- {
		obj := objs[i]
		key := client.ObjectKeyFromObject(obj)
		if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %T %s: %v", obj, key, err)
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := c.Get(ctx, key, obj)
			if apierrors.IsNotFound(err) {
				break
			}
			if err == nil && len(obj.GetFinalizers()) > 0 {
				obj.SetFinalizers(nil)
				err = c.Update(ctx, obj)
			}
			if time.Now().After(deadline) {
				t.Errorf("%T %s still there after 30s (%v)", obj, key, err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
