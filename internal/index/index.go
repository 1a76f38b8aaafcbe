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

// Package index declares the manager's cache field indexes and registers them once, before any
// controller or the webhook starts (as cluster-api's util/index does): the render controller and
// the admission webhook read the same PersistentVolume index, and neither may depend on the
// other having registered it.
package index

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/consumers"
	"github.com/kube-multipath/kube-multipath/internal/lun"
)

const (
	// PVConsumers indexes PersistentVolumes by the Bucket of each lowercase WWID and alias they
	// name (consumers.Refs): the webhook finds the volumes of one LUN with one lookup per name,
	// then keeps those that name it.
	PVConsumers = "multipath.consumers"
	// PVNamesAny holds, under the one key "true", the PersistentVolumes that name any WWID or
	// alias, so that a render reads them with one lookup instead of one per LUN name.
	PVNamesAny = "multipath.consumers.any"
	// WWIDNames indexes MultipathWWIDs by the Bucket of each name they claim (lun.Names), so that
	// admission finds the objects a new name may collide with without a scan, then keeps those
	// that claim it.
	WWIDNames = "multipath.names"
)

// Buckets is how many keys PVConsumers and WWIDNames spread names over. client-go keeps one set
// of object keys per index value: one value per name made tens of thousands of one-entry sets
// at 10,000 LUNs and volumes (about 200 bytes each, 10 MiB of the manager's heap); with 4,096
// buckets a lookup reads a handful of candidates, which the caller narrows to the name.
const Buckets = 4096

// Bucket is the index value of a name (a consumers.Key: lowercase) in PVConsumers and WWIDNames.
// Different names may share a bucket: a lookup returns candidates, never only exact matches.
func Bucket(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return strconv.FormatUint(uint64(h.Sum32()%Buckets), 16)
}

// buckets are the distinct buckets of names, in the order first seen.
func buckets(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if b := Bucket(n); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Index is one field index: what it indexes, its name and its key function.
type Index struct {
	Object  client.Object
	Field   string
	Extract client.IndexerFunc
}

// All are the indexes the manager's cache carries. Tests on a fake client register the same
// ones with its builder's WithIndex.
func All() []Index {
	return []Index{
		{Object: &corev1.PersistentVolume{}, Field: PVConsumers, Extract: pvRefs},
		{Object: &corev1.PersistentVolume{}, Field: PVNamesAny, Extract: pvNamesAny},
		{Object: &mpv1alpha1.MultipathWWID{}, Field: WWIDNames, Extract: wwidNames},
	}
}

// AddDefaultIndexes registers All on the indexer (a manager's GetFieldIndexer()). Call it once,
// before the controllers and the webhook are set up.
func AddDefaultIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	for _, ix := range All() {
		if err := indexer.IndexField(ctx, ix.Object, ix.Field, ix.Extract); err != nil {
			return fmt.Errorf("registering the %s index of %T: %w", ix.Field, ix.Object, err)
		}
	}
	return nil
}

func pvRefs(o client.Object) []string {
	return buckets(consumers.Refs(o.(*corev1.PersistentVolume)))
}

func pvNamesAny(o client.Object) []string {
	if len(consumers.Refs(o.(*corev1.PersistentVolume))) > 0 {
		return []string{"true"}
	}
	return nil
}

func wwidNames(o client.Object) []string { return buckets(lun.Names(o.(*mpv1alpha1.MultipathWWID))) }
