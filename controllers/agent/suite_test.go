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

package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/controllers/agent"
	rules "github.com/kube-multipath/kube-multipath/internal/health"
	"github.com/kube-multipath/kube-multipath/internal/hostfs"
	"github.com/kube-multipath/kube-multipath/internal/kubeclient"
	"github.com/kube-multipath/kube-multipath/internal/mapusers"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

const namespace = "kube-multipath-system"

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	if os.Getenv("AGENT_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		return e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	}))
}

// fixtureMaps is the node's "show maps json": mpatha up on 16 paths, mpathb down on 16.
func fixtureMaps(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "maps-json-proxmox-san-fenced-DERIVED-2maps-one-all-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// node is one agent under test: a host root, a fake multipathd and the agent's manager.
type node struct {
	name   string
	root   string
	daemon *multipathdtest.FakeDaemon
	host   *hostfs.Host
	// slowApply is the agent's SlowApply (0: its default).
	slowApply time.Duration
	// mapUsers is the agent's MapUsers (nil: none).
	mapUsers *mapusers.Reader
}

// startAgent runs an agent for a new node name with the manager options cmd/agent uses: the
// MultipathNodeState cache scoped to the node, ConfigMaps read without a cache.
func startAgent(t *testing.T, name string, setup func(*node)) *node {
	t.Helper()
	return startAgentAs(t, name, env.Config, setup)
}

// startAgentAs runs the agent with cfg's credentials.
func startAgentAs(t *testing.T, name string, cfg *rest.Config, setup func(*node)) *node {
	t.Helper()
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: fixtureMaps(t)})
	mpd := &multipathd.SocketClient{Address: d.Address(), Timeout: 2 * time.Second}
	n := &node{name: name, root: t.TempDir(), daemon: d}
	n.host = &hostfs.Host{Root: n.root, Client: mpd}
	if setup != nil {
		setup(n)
	}

	kube, err := kubeclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	triggers, trigger := agent.NewTriggers()
	recorder := kubeclient.NewRecorder(kube, agent.FieldOwner, agent.FieldOwner+"-"+name)
	r := &agent.Reconciler{
		Kube:            kube,
		Recorder:        recorder,
		Host:            n.host,
		Daemon:          mpd,
		NodeName:        name,
		Namespace:       namespace,
		RefreshInterval: 300 * time.Millisecond,
		Triggers:        triggers,
		SlowApply:       n.slowApply,
		MapUsers:        n.mapUsers,
	}
	watcher := &agent.FileWatcher{Root: n.root, Trigger: trigger, Debounce: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{r.Start, recorder.Start, watcher.Start} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Errorf("agent of %s: %v", name, err)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = env.Client.Delete(context.Background(), &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}})
		// envtest runs no garbage collector: the Lease the MultipathNodeState owns is the test's
		// to delete, else a later run of the test (-count) finds it with the old owner.
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: rules.LeaseName(name)}}
		if err := env.Client.Delete(context.Background(), l); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Lease %s: %v", l.Name, err)
		}
	})
	return n
}

// publish stores a rendered config as the render controller does and returns its reference.
func publish(t *testing.T, wwids ...string) (*multipathconf.Rendered, mpv1alpha1.RenderedConfigRef) {
	t.Helper()
	objs := make([]mpv1alpha1.MultipathWWID, len(wwids))
	for i, w := range wwids {
		objs[i] = mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("lun-%d", i)}, Spec: mpv1alpha1.MultipathWWIDSpec{WWID: w}}
	}
	r, err := multipathconf.Render(nil, objs)
	if err != nil {
		t.Fatal(err)
	}
	data, binaryData, err := multipathconf.Pack(r)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: r.ConfigMapName(), Labels: map[string]string{"app.kubernetes.io/managed-by": "kube-multipath"}},
		Immutable:  ptr.To(true),
		Data:       data,
		BinaryData: binaryData,
	}
	if err := env.Client.Create(context.Background(), cm); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return r, mpv1alpha1.RenderedConfigRef{Name: r.ConfigMapName(), Hash: r.Hash}
}

// createState creates the node's MultipathNodeState with desired as spec.desiredConfig, as the
// rollout controller would.
func createState(t *testing.T, name string, desired *mpv1alpha1.RenderedConfigRef) {
	t.Helper()
	st := &mpv1alpha1.MultipathNodeState{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mpv1alpha1.MultipathNodeStateSpec{DesiredConfig: desired}}
	if err := env.Client.Create(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}

func setDesired(t *testing.T, name string, desired mpv1alpha1.RenderedConfigRef) {
	t.Helper()
	st := getState(t, name)
	before := st.DeepCopy()
	st.Spec.DesiredConfig = &desired
	if err := env.Client.Patch(context.Background(), st, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
}

func getState(t *testing.T, name string) *mpv1alpha1.MultipathNodeState {
	t.Helper()
	st := &mpv1alpha1.MultipathNodeState{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, st); err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls f until it returns nil, failing the test with f's last error after a timeout.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, f)
}

func (n *node) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.root, rel))
	if os.IsNotExist(err) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (n *node) reconfigures() int {
	c := 0
	for _, cmd := range n.daemon.Commands() {
		if cmd == multipathd.CmdReconfigure {
			c++
		}
	}
	return c
}

// events returns the reasons of the Events about the node's MultipathNodeState.
func events(t *testing.T, name string) []string {
	t.Helper()
	var reasons []string
	for _, e := range stateEvents(t, name) {
		reasons = append(reasons, e.Reason)
	}
	slices.Sort(reasons)
	return slices.Compact(reasons)
}

// stateEvents returns the Events about the node's MultipathNodeState.
func stateEvents(t *testing.T, name string) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "MultipathNodeState" && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func lease(t *testing.T, name string) (*coordinationv1.Lease, error) {
	t.Helper()
	l := &coordinationv1.Lease{}
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: rules.LeaseName(name)}, l)
	return l, err
}

func runtimeGoexit() { runtime.Goexit() }
