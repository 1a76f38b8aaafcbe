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

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	coordinationv1ac "k8s.io/client-go/applyconfigurations/coordination/v1"
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
//
// With confirm, each watcher then confirms on its own Lease (a server-side apply, as an agent
// confirms), and the time is when one watch of those Leases sees the confirmation, as the
// rollout controller would: one watch fan-out plus one small write per node, the least a
// rollout that counts its nodes can cost (issue 21's title), with no file written and no daemon
// told anything.
//
// started, when set, is called just before the update.
func floor(ctx context.Context, cfg *rest.Config, c client.Client, n int, payload *corev1.ConfigMap, confirm bool, started func()) (sim.Latencies, error) {
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
	clients := make([]kubernetes.Interface, n)
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
			watches[i], clients[i] = w, cs
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return sim.Latencies{}, fmt.Errorf("starting the floor watchers: %w", err)
	}
	seq := time.Now().Format(time.RFC3339Nano)
	var confirmed *leaseWatch
	if confirm {
		var err error
		if confirmed, err = watchFloorLeases(ctx, c, cfg, n, seq); err != nil {
			return sim.Latencies{}, err
		}
	}
	var got sync.WaitGroup
	confirmErrs := make(chan error, n)
	for i, w := range watches {
		got.Add(1)
		go func() {
			defer got.Done()
			for ev := range w.ResultChan() {
				if ev.Type != watch.Modified {
					continue
				}
				received[i] = time.Now()
				if confirm {
					lease := coordinationv1ac.Lease(floorLease(i), sim.Namespace).
						WithSpec(coordinationv1ac.LeaseSpec().WithHolderIdentity(seq).WithRenewTime(metav1.NewMicroTime(time.Now())))
					if _, err := clients[i].CoordinationV1().Leases(sim.Namespace).Apply(ctx, lease, metav1.ApplyOptions{FieldManager: "scale-floor", Force: true}); err != nil {
						confirmErrs <- err
					}
				}
				return
			}
		}()
	}
	cm.Data["seq"] = seq
	if started != nil {
		started()
	}
	start := time.Now()
	if err := c.Update(ctx, cm); err != nil {
		return sim.Latencies{}, err
	}
	done := make(chan struct{})
	go func() {
		got.Wait()
		if confirmed != nil {
			confirmed.wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case err := <-confirmErrs:
		return sim.Latencies{}, fmt.Errorf("a floor watcher's confirmation: %w", err)
	case <-time.After(5 * time.Minute):
		return sim.Latencies{}, fmt.Errorf("not every floor watcher saw the update (and confirmed it) within 5 minutes")
	}
	for _, w := range watches {
		w.Stop()
	}
	if confirmed != nil {
		received = confirmed.seen
	}
	ds := make([]time.Duration, n)
	for i, at := range received {
		ds[i] = at.Sub(start)
	}
	return sim.Summarise(ds), nil
}

// floorLease is floor watcher i's Lease.
func floorLease(i int) string { return fmt.Sprintf("scale-floor-%05d", i) }

// leaseWatch records when each floor watcher's Lease first carries seq, from one watch.
type leaseWatch struct {
	seen []time.Time
	done chan struct{}
}

func (l *leaseWatch) wait() { <-l.done }

// watchFloorLeases creates the n floor Leases when missing (a confirmation is then an update,
// as an agent's is) and watches them for seq, on its own connection.
func watchFloorLeases(ctx context.Context, c client.Client, cfg *rest.Config, n int, seq string) (*leaseWatch, error) {
	for i := range n {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: floorLease(i), Namespace: sim.Namespace, Labels: map[string]string{floorLeaseLabel: "true"}}}
		if err := c.Create(ctx, l); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the floor Lease %s: %w", l.Name, err)
		}
	}
	wc := rest.CopyConfig(cfg)
	wc.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	cs, err := kubernetes.NewForConfig(wc)
	if err != nil {
		return nil, err
	}
	w, err := cs.CoordinationV1().Leases(sim.Namespace).Watch(ctx, metav1.ListOptions{LabelSelector: floorLeaseLabel + "=true"})
	if err != nil {
		return nil, fmt.Errorf("watching the floor Leases: %w", err)
	}
	l := &leaseWatch{seen: make([]time.Time, n), done: make(chan struct{})}
	go func() {
		defer w.Stop()
		left := n
		for ev := range w.ResultChan() {
			lease, ok := ev.Object.(*coordinationv1.Lease)
			if !ok || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != seq {
				continue
			}
			var i int
			if _, err := fmt.Sscanf(lease.Name, "scale-floor-%05d", &i); err != nil || i >= n || !l.seen[i].IsZero() {
				continue
			}
			l.seen[i] = time.Now()
			if left--; left == 0 {
				close(l.done)
				return
			}
		}
	}()
	return l, nil
}

const floorLeaseLabel = "kube-multipath.io/scale-floor"
