//go:build e2e && cluster

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

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
	"github.com/kube-multipath/kube-multipath/test/sim"
)

// clusterAlias is the managed LUN's alias: /dev/mapper/cl-data on the node.
const clusterAlias = "cl-data"

// hostBefore is the node's own state before the install: checksums of the host's files, the
// host's mpatha (name, uuid, device), and conf.d's listing. Uninstall must leave them as found.
var hostBefore struct{ sums, mpatha, confd, wwids string }

// hostFilesScript prints the checksums of the host's own multipath files.
const hostFilesScript = "sha256sum /etc/multipath.conf " + hostConf + " " + bindingsFile

// mpathaScript prints the host's own map: name, uuid, major and minor.
const mpathaScript = "dmsetup info -c --noheadings --separator ' ' -o name,uuid,major,minor " + hostMapName

// mapsScript prints every device-mapper map with its uuid and major:minor, sorted.
const mapsScript = "dmsetup info -c --noheadings --separator ' ' -o name,uuid,major,minor | sort"

// TestCluster runs the scenarios in order on one cluster, each from the state the one before
// left: install, admission through the Service, a LUN on the real node, an upgrade under IO,
// the uninstall.
func TestCluster(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name string
		f    func(*testing.T, context.Context)
	}{
		{"1-install-config-default-with-the-built-images", testInstall},
		{"2-webhook-through-its-service-refuses-a-bad-object", testWebhookRefuses},
		{"3-lun-with-alias-assembled-by-the-agent-pod", testClusterMap},
		{"4-upgrade-to-a-new-image-tag-keeps-the-maps-under-io", testUpgrade},
		{"5-uninstall-as-docs-operations-says", testUninstall},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			began := time.Now()
			s.f(t, ctx)
			sys.figure("scenario %s: %.1fs", s.name, time.Since(began).Seconds())
		})
		if !ok {
			dumpCluster(t, ctx)
			t.FailNow()
		}
	}
}

// dumpCluster logs what explains a failure: the pods, their descriptions, the node's logs.
func dumpCluster(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, args := range [][]string{
		{"get", "pods", "-A", "-o", "wide"},
		{"describe", "pods", "-n", sim.Namespace},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
	} {
		out, err := kubectl(ctx, args...)
		t.Logf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	out, _ := sys.vm.run(ctx, "tail -40 /run/kubelet.log; echo ----; tail -20 /run/containerd.log; echo ----; tail -20 /run/connect.log")
	t.Logf("node logs:\n%s", out)
}

// overlay writes bin/e2e-cluster/overlay-<tag>: config/default with only the images' tags
// changed (the names are config/default's; the images are imported, never pulled).
func overlay(t *testing.T, tag string) string {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "bin", "e2e-cluster", "overlay-"+tag)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../../config/default
images:
- name: %[1]s
  newTag: %[3]s
- name: %[2]s
  newTag: %[3]s
`, imgManager, imgAgent, tag)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustKubectl(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rollout waits for the manager Deployment and the agent DaemonSet to roll out.
func rollout(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, w := range []string{"deployment/kube-multipath-manager", "daemonset/kube-multipath-agent"} {
		mustKubectl(t, ctx, "-n", sim.Namespace, "rollout", "status", w, "--timeout=10m")
	}
}

// testInstall: config/default, images retagged only, applied as docs/operations.md says; the
// manager Deployment and the agent DaemonSet roll out on the real kubelet.
func testInstall(t *testing.T, ctx context.Context) {
	hostBefore.sums = guest(t, ctx, hostFilesScript)
	hostBefore.mpatha = strings.TrimSpace(guest(t, ctx, mpathaScript))
	hostBefore.confd = guest(t, ctx, "ls "+confDir)
	hostBefore.wwids = guest(t, ctx, "cat "+wwidsFile)
	t.Logf("node before the install: %s; conf.d: %s", hostBefore.mpatha, strings.Fields(hostBefore.confd))

	dir := overlay(t, "e2e1")
	began := time.Now()
	t.Log(mustKubectl(t, ctx, "apply", "-k", dir))
	rollout(t, ctx)
	sys.figure("install: kubectl apply -k -> manager Deployment and agent DaemonSet rolled out (every pod Ready): %.1fs", time.Since(began).Seconds())
	pods := mustKubectl(t, ctx, "get", "pods", "-A", "-o", "wide")
	t.Logf("kubectl get pods -A -o wide:\n%s", pods)
	sys.figure("kubectl get pods -A -o wide after the install:\n%s", indent(pods))

	// The pods run as the manifests say, on the real runtime: the manager as 65532 without
	// capabilities, the agent as root with SYS_ADMIN and SYS_CHROOT only.
	procs := guest(t, ctx, `for p in manager agent; do for pid in $(pgrep -x $p); do
  echo "$p $(awk '/^Uid:/{print $2} /^CapEff:/{print $2} /^NoNewPrivs:/{print $2}' /proc/$pid/status | tr '\n' ' ')"
done; done`)
	t.Logf("the pods' processes on the node (name uid capeff nonewprivs):\n%s", procs)
	for _, line := range strings.Split(strings.TrimSpace(procs), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Errorf("process line %q", line)
			continue
		}
		switch f[0] {
		case "manager":
			if f[1] != "65532" || f[2] != "0000000000000000" {
				t.Errorf("manager runs as uid %s with capabilities %s, want 65532 and none", f[1], f[2])
			}
		case "agent":
			// CAP_SYS_CHROOT is bit 18, CAP_SYS_ADMIN bit 21.
			if f[1] != "0" || f[2] != "0000000000240000" {
				t.Errorf("agent runs as uid %s with capabilities %s, want 0 and 0000000000240000 (SYS_ADMIN, SYS_CHROOT)", f[1], f[2])
			}
		}
	}
	if !strings.Contains(procs, "manager") || !strings.Contains(procs, "agent") {
		t.Errorf("the manager and the agent are not both running on the node:\n%s", procs)
	}
	// The API server reaches the kubelet (logs) through the egress proxy.
	logs := mustKubectl(t, ctx, "-n", sim.Namespace, "logs", "daemonset/kube-multipath-agent", "--tail=3")
	t.Logf("kubectl logs daemonset/kube-multipath-agent (through the kubelet):\n%s", logs)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// testWebhookRefuses: a MultipathWWID only the webhook refuses (a node selector operator the
// CRD's schema accepts as a string, which the webhook checks as a label selector) is refused by
// the manager's webhook, called by the API server through its Service's endpoints.
func testWebhookRefuses(t *testing.T, ctx context.Context) {
	bad := &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: "cl-bad"},
		Spec: mpv1alpha1.MultipathWWIDSpec{WWID: lun2.wwid(), NodeSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}},
		}},
	}
	began := time.Now()
	var last error
	err := poll(ctx, 2*time.Minute, func() error {
		last = sys.c.Create(ctx, bad)
		if last == nil {
			return nil
		}
		if strings.Contains(last.Error(), "denied the request") {
			return nil
		}
		time.Sleep(time.Second)
		return last
	})
	if err != nil {
		t.Fatalf("the webhook did not answer: %v", err)
	}
	if last == nil {
		t.Fatal("a MultipathWWID with a node selector operator Near was accepted")
	}
	if !strings.Contains(last.Error(), "validate.multipathwwids.multipath.kube-multipath.io") {
		t.Errorf("refused, but not by the webhook: %v", last)
	}
	t.Logf("refused: %v", last)
	sys.figure("webhook through its Service refuses a bad MultipathWWID: %.1fs after the rollout", time.Since(began).Seconds())
}

// testClusterMap: a MultipathConfig and a MultipathWWID with an alias; the agent pod applies
// them on the real kernel: /dev/mapper/cl-data, the node runs its desired config.
func testClusterMap(t *testing.T, ctx context.Context) {
	n := &corev1.Node{}
	if err := sys.c.Get(ctx, client.ObjectKey{Name: nodeName}, n); err != nil {
		t.Fatal(err)
	}
	before := n.DeepCopy()
	n.Labels[sim.SANLabel] = "true"
	if err := sys.c.Patch(ctx, n, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec: mpv1alpha1.MultipathConfigSpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{sim.SANLabel: "true"}},
			Defaults: mpv1alpha1.MultipathDefaults{
				PollingInterval:    ptr.To[int32](2),
				MaxPollingInterval: ptr.To[int32](4),
			},
		},
	}
	if err := sys.c.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	w := &mpv1alpha1.MultipathWWID{
		ObjectMeta: metav1.ObjectMeta{Name: clusterAlias},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: lun1.wwid(), Alias: clusterAlias},
	}
	if err := sys.c.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, ctx, 3*time.Minute, "/dev/mapper/"+clusterAlias, "test -b /dev/mapper/"+clusterAlias)
	waitApplied(t, ctx, "")
	st := nodeState(t, ctx)
	if st.Spec.DesiredConfig == nil || st.Status.AppliedConfig == nil || st.Status.AppliedConfig.Hash != st.Spec.DesiredConfig.Hash {
		t.Fatalf("applied %+v, desired %+v", st.Status.AppliedConfig, st.Spec.DesiredConfig)
	}
	m := findMap(guestMaps(t, ctx), lun1.wwid())
	if m == nil || m.Name != clusterAlias {
		t.Fatalf("multipathd has no map %s for %s: %v", clusterAlias, lun1.wwid(), mapNames(guestMaps(t, ctx)))
	}
	if got, want := mapDevices(m), pathDevices(t, ctx, lun1); strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 2 {
		t.Errorf("map %s has paths %v, the kernel shows %v", clusterAlias, got, want)
	}
	checkAppliedFiles(t, ctx)
	sys.figure("MultipathWWID %s created -> /dev/mapper/%s on the node and applied hash = desired (%s): %.1fs", clusterAlias, clusterAlias, st.Status.AppliedConfig.Hash, time.Since(began).Seconds())
	if got := strings.TrimSpace(guest(t, ctx, mpathaScript)); got != hostBefore.mpatha {
		t.Errorf("the host's mpatha changed: %s, was %s", got, hostBefore.mpatha)
	}
}

// testUpgrade: the overlay applied again with a new image tag while a writer writes to ext4 on
// cl-data: both workloads roll to the new images, no map is renamed, re-created or reloaded
// away, and no write fails.
func testUpgrade(t *testing.T, ctx context.Context) {
	guest(t, ctx, "mkfs.ext4 -q -F /dev/mapper/"+clusterAlias+" && mkdir -p /mnt/data && mount /dev/mapper/"+clusterAlias+" /mnt/data")
	startWriter(t, ctx, "/mnt/data", dataWriter)
	time.Sleep(2 * time.Second)
	mapsBefore := guest(t, ctx, mapsScript)
	podsBefore := mustKubectl(t, ctx, "get", "pods", "-n", sim.Namespace, "-o", "custom-columns=NAME:.metadata.name,UID:.metadata.uid", "--no-headers")
	// The new tag: the same image under a new name, as a rebuild of the same sources gives
	// (hack/images is reproducible, so a rebuild has the same digest anyway).
	guest(t, ctx, `for i in `+imgManager+` `+imgAgent+`; do
  ctr -n k8s.io images tag docker.io/library/$i:e2e1 docker.io/library/$i:e2e2
done`)
	began := time.Now()
	t.Log(mustKubectl(t, ctx, "apply", "-k", overlay(t, "e2e2")))
	rollout(t, ctx)
	sys.figure("upgrade: kubectl apply -k (tag e2e2) -> both rolled out: %.1fs", time.Since(began).Seconds())
	// Every pod of the namespace is a new one on the new tag (the old ones may take a moment to
	// finish terminating after the rollout).
	var images string
	err := poll(ctx, 3*time.Minute, func() error {
		out, err := kubectl(ctx, "get", "pods", "-n", sim.Namespace, "--no-headers", "-o",
			"custom-columns=NAME:.metadata.name,UID:.metadata.uid,IMAGE:.spec.containers[0].image,READY:.status.containerStatuses[0].ready")
		if err != nil {
			return err
		}
		images = out
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) < 4:
				return fmt.Errorf("pod line %q", line)
			case strings.Contains(podsBefore, f[1]):
				return fmt.Errorf("pod %s from before the upgrade is still there", f[0])
			case !strings.HasSuffix(f[2], ":e2e2") || f[3] != "true":
				return fmt.Errorf("pod %s: image %s, ready %s", f[0], f[2], f[3])
			}
		}
		time.Sleep(time.Second)
		return nil
	})
	t.Logf("pods before:\n%s\npods after:\n%s", podsBefore, images)
	if err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
	// The new agent converges on the same config and touches nothing.
	waitApplied(t, ctx, "")
	time.Sleep(5 * time.Second)
	if after := guest(t, ctx, mapsScript); after != mapsBefore {
		t.Errorf("maps changed through the upgrade:\nbefore:\n%safter:\n%s", mapsBefore, after)
	}
	checkWriter(t, ctx)
	n := stopWriter(t, ctx, "/mnt/data", dataWriter)
	sys.figure("writer on /dev/mapper/%s through the upgrade: %s files of 256 KiB written and read back intact, 0 IO errors", clusterAlias, n)
	guest(t, ctx, "umount /mnt/data")
}

// testUninstall follows docs/operations.md: delete the MultipathConfig and wait for it to go
// (the nodes torn down), then kubectl delete -k. The node's own files keep their checksums, the
// host's mpatha is as it was, conf.d holds only the host's own drop-in.
func testUninstall(t *testing.T, ctx context.Context) {
	// The LUN is free (unmounted in the upgrade): wait for the node to have said so, as step 1
	// says ("free or move what uses the LUNs").
	waitWWID(t, ctx, clusterAlias, 2*time.Minute, "free", func(w *mpv1alpha1.MultipathWWID) error {
		if len(w.Status.OpenOn) > 0 {
			return fmt.Errorf("still open on %+v", w.Status.OpenOn)
		}
		return nil
	})
	began := time.Now()
	mustKubectl(t, ctx, "delete", "multipathconfig", "cluster", "--wait=false")
	mustKubectl(t, ctx, "wait", "--for=delete", "multipathconfig/cluster", "--timeout=5m")
	if out := mustKubectl(t, ctx, "get", "multipathnodestates", "--no-headers"); strings.TrimSpace(out) != "" && !strings.Contains(out, "No resources found") {
		t.Errorf("MultipathNodeStates left after the MultipathConfig went:\n%s", out)
	}
	torn := time.Since(began)
	t.Log(mustKubectl(t, ctx, "delete", "-k", overlay(t, "e2e2"), "--timeout=5m"))
	sys.figure("uninstall: MultipathConfig deleted -> gone (node torn down) %.1fs; kubectl delete -k %.1fs", torn.Seconds(), time.Since(began).Seconds()-torn.Seconds())

	if got := guest(t, ctx, hostFilesScript); got != hostBefore.sums {
		t.Errorf("the host's files changed:\nbefore:\n%safter:\n%s", hostBefore.sums, got)
	}
	if got := strings.TrimSpace(guest(t, ctx, mpathaScript)); got != hostBefore.mpatha {
		t.Errorf("the host's mpatha changed: %s, was %s", got, hostBefore.mpatha)
	}
	if got := guest(t, ctx, "ls "+confDir); got != hostBefore.confd {
		t.Errorf("conf.d holds %q after the uninstall, before the install %q", strings.Fields(got), strings.Fields(hostBefore.confd))
	}
	// wwids: every entry the host had is still there, the managed LUN's is gone (multipathd
	// itself may rewrite the file's comment lines).
	got := guest(t, ctx, "cat "+wwidsFile)
	for _, line := range strings.Split(hostBefore.wwids, "\n") {
		if strings.HasPrefix(line, "/") && !strings.Contains(got, line) {
			t.Errorf("the host's entry %s is gone from %s:\n%s", line, wwidsFile, got)
		}
	}
	if strings.Contains(got, lun1.wwid()) {
		t.Errorf("the managed LUN's WWID %s is still in %s:\n%s", lun1.wwid(), wwidsFile, got)
	}
	if got != hostBefore.wwids {
		t.Logf("%s differs from before the install (entries checked above):\n%sbefore:\n%s", wwidsFile, got, hostBefore.wwids)
	}
	t.Logf("maps left on the node: %v; %s", mapNames(guestMaps(t, ctx)), guest(t, ctx, "ls -la /etc/multipath /etc/multipath/kube-multipath 2>&1 || true"))
	if out := mustKubectl(t, ctx, "get", "pods", "-A", "--no-headers"); strings.Contains(out, sim.Namespace) {
		t.Errorf("pods left in %s:\n%s", sim.Namespace, out)
	}
}
