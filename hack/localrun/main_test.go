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
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMakeRunHeadless drives `make run`'s entry point: it waits until the system is up, checks
// the files every simulated node's agent wrote and the status matrix, then stops it.
func TestMakeRunHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane, the manager and three agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	var got started
	readyCalled := false
	var refused error
	err := run(ctx, out, "0", "0", func(s started) {
		readyCalled = true
		got = s
		// The admission webhook is live: a second LUN claiming the sample's alias is refused.
		c, err := client.New(s.restConfig, client.Options{Scheme: testenv.Scheme()})
		if err == nil {
			dup := &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: "dup"}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: "3600a0980000000000000000000000099", Alias: sampleAlias}}
			refused = c.Create(ctx, dup, client.DryRunAll)
		}
		cancel() // stop cleanly once up; the checks below read what it left
	})
	if refused == nil || !strings.Contains(refused.Error(), "denied the request") || !strings.Contains(refused.Error(), sampleAlias) {
		t.Errorf("a duplicate alias must be refused by the admission webhook, got %v", refused)
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !readyCalled {
		t.Fatalf("run returned before the system was up:\n%s", out)
	}
	if len(got.nodes) != 3 {
		t.Fatalf("%d simulated nodes, want 3", len(got.nodes))
	}
	for _, n := range got.nodes {
		base, err := os.ReadFile(filepath.Join(n.hostRoot, "etc", "multipath", "conf.d", "99-kube-multipath.conf"))
		if err != nil {
			t.Errorf("%s: the agent did not write the baseline: %v", n.name, err)
			continue
		}
		if !strings.Contains(string(base), `alias "oradata01"`) || !strings.Contains(string(base), `find_multipaths "strict"`) {
			t.Errorf("%s: baseline lacks the sample LUN or the invariants:\n%s", n.name, base)
		}
		wwids, err := os.ReadFile(filepath.Join(n.hostRoot, "etc", "multipath", "wwids"))
		if err != nil || !strings.Contains(string(wwids), "/"+sampleWWID+"/") {
			t.Errorf("%s: /etc/multipath/wwids lacks the sample WWID (%v):\n%s", n.name, err, wwids)
		}
	}
	text := out.String()
	for _, want := range []string{
		"kubectl multipath status:",
		"oradata01",
		"FAIL 0/1", // san-node-2's recorded map has its only path faulty
		"export KUBECONFIG=" + got.kubeconfig,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
