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

package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kube-multipath/kube-multipath/test/sim"
)

const floorConfigMap = "scale-floor"

// floor is the API's own propagation floor at n nodes, measured in the same run: n plain
// client-go watchers, each with its own connection as n nodes would have, watch one ConfigMap
// carrying the current rendered config's payload; it is updated once, and each watcher's
// receipt is timed. No operator can deliver that config to n nodes faster than the API server
// fans out one object of its size.
func floor(ctx context.Context, cfg *rest.Config, c client.Client, n int, payload *corev1.ConfigMap) (sim.Latencies, error) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: floorConfigMap, Namespace: sim.Namespace}}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); apierrors.IsNotFound(err) {
		if err := c.Create(ctx, cm); err != nil {
			return sim.Latencies{}, err
		}
	} else if err != nil {
		return sim.Latencies{}, err
	}
	cm.Data, cm.BinaryData = map[string]string{"seq": "0"}, nil
	if payload != nil {
		for k, v := range payload.Data {
			cm.Data[k] = v
		}
		cm.BinaryData = payload.BinaryData
	}
	if err := c.Update(ctx, cm); err != nil {
		return sim.Latencies{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	received := make([]time.Time, n)
	watches := make([]watch.Interface, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			wc := rest.CopyConfig(cfg)
			// Its own connection, as on its own node (a custom dialer keeps client-go from sharing
			// one transport among identical configs).
			wc.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
			wc.QPS, wc.Burst = 20, 30
			cs, err := kubernetes.NewForConfig(wc)
			if err != nil {
				errs <- err
				return
			}
			w, err := cs.CoreV1().ConfigMaps(sim.Namespace).Watch(ctx, metav1.ListOptions{
				FieldSelector: "metadata.name=" + floorConfigMap, ResourceVersion: cm.ResourceVersion,
			})
			if err != nil {
				errs <- err
				return
			}
			watches[i] = w
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return sim.Latencies{}, fmt.Errorf("starting the floor watchers: %w", err)
	}
	var got sync.WaitGroup
	for i, w := range watches {
		got.Add(1)
		go func() {
			defer got.Done()
			for ev := range w.ResultChan() {
				if ev.Type == watch.Modified {
					received[i] = time.Now()
					return
				}
			}
		}()
	}
	cm.Data["seq"] = time.Now().String()
	start := time.Now()
	if err := c.Update(ctx, cm); err != nil {
		return sim.Latencies{}, err
	}
	done := make(chan struct{})
	go func() { got.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return sim.Latencies{}, fmt.Errorf("not every floor watcher saw the update within 5 minutes")
	}
	for _, w := range watches {
		w.Stop()
	}
	ds := make([]time.Duration, n)
	for i, at := range received {
		ds[i] = at.Sub(start)
	}
	return sim.Summarise(ds), nil
}
