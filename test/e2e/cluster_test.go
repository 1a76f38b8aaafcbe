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

// The cluster build of this package (`make e2e-cluster`, tags e2e,cluster): what users install,
// config/default with the images of hack/images, run by a real kubelet, containerd and runc on
// the QEMU guest of `make e2e`. The control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) runs on the host: the guest is emulated (TCG) and slow, and only the node has
// to be real. See docs/e2e-cluster.md.
package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/testenv"
)

// guestAPIHost is where the guest reaches the host's kube-apiserver (QEMU's guestfwd, on the
// API server's own port so the kubernetes Service's endpoint, the advertise address and that
// port, is right); 10.0.0.1:443 (the Service) is DNAT'ed to it on the node.
const guestAPIHost = "10.0.2.100"

// guestIP is the node's address (QEMU user network); the kubelet registers it as InternalIP.
const guestIP = "10.0.2.15"

// proxyGuestPort is the CONNECT proxy's port on the guest (hack/e2e-cluster/connect).
const proxyGuestPort = 3128

// Image references: the kustomize overlay sets these tags on config/default's image names.
const (
	imgManager = "kube-multipath-manager"
	imgAgent   = "kube-multipath-agent"
	pauseImage = "kube-multipath.e2e/pause:1"
)

// sys is the system the scenarios run against.
var sys *system

type system struct {
	dir        string
	share      string
	kubeconfig string // the admin's, on the host
	c          client.Client
	vm         *vm
	pki        *pki
	assets     string // kube-apiserver, etcd (KUBEBUILDER_ASSETS)
	node       string // kubelet, kube-controller-manager, kube-scheduler, kubectl (KUBE_NODE_ASSETS)
	apiPort    int
	proxyPort  int
	egress     net.Listener

	procMu sync.Mutex
	procs  []*hostProc

	mu      sync.Mutex
	figures []string
}

// progress says on stderr where the run is: TestMain's set-up takes minutes and prints nothing
// else until the tests run.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e-cluster: %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

// figure records a measurement.
func (s *system) figure(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.figures = append(s.figures, fmt.Sprintf(format, args...))
}

// hostProc is a control-plane process on the host, its output in <dir>/<name>.log.
type hostProc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	begin := time.Now()
	image, err := hostReady()
	var assets, node string
	if err == nil {
		assets, node, err = clusterAssets()
	}
	dir, closeLog, code, ok := prepare("e2e-cluster", "kube-multipath-e2e-cluster-", err)
	if !ok {
		return code
	}
	defer closeLog()

	s := &system{dir: dir, share: filepath.Join(dir, "share"), assets: assets, node: node}
	sys = s
	if err := s.start(image); err != nil {
		fmt.Fprintln(os.Stderr, "e2e-cluster:", err)
		s.collectLogs()
		s.stop()
		fmt.Fprintf(os.Stderr, "e2e-cluster: logs kept in %s\n", dir)
		return 1
	}
	code = m.Run()
	s.collectLogs()
	s.stop()
	report("e2e-cluster", fmt.Sprintf("e2e-cluster figures (QEMU/TCG guest, %s):", strings.Join(strings.Fields(readOr(filepath.Join(image, "versions.txt"), "?")), " ")),
		s.figures, begin, code, dir, "apiserver.log, controller-manager.log, scheduler.log, console.log, share/kubelet.log, share/containerd.log, share/pods/")
	return code
}

// clusterAssets finds the control plane's and the node's binaries.
func clusterAssets() (string, string, error) {
	assets, node := os.Getenv("KUBEBUILDER_ASSETS"), os.Getenv("KUBE_NODE_ASSETS")
	var missing []string
	for _, f := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, f)); assets == "" || err != nil {
			missing = append(missing, f+" in KUBEBUILDER_ASSETS (hack/envtest.sh builds it)")
		}
	}
	for _, f := range []string{"kubelet", "kube-controller-manager", "kube-scheduler", "kubectl"} {
		if _, err := os.Stat(filepath.Join(node, f)); node == "" || err != nil {
			missing = append(missing, f+" in KUBE_NODE_ASSETS (hack/e2e-cluster/k8s.sh builds it)")
		}
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("%w: %s", errNoTools, strings.Join(missing, ", "))
	}
	return assets, node, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start builds what the guest runs, starts the control plane on the host, boots the guest and
// brings the node up: containerd, the CNI bridge, the images, the kubelet, until Ready.
func (s *system) start(image string) error {
	ctx := context.Background()
	for _, d := range []string{s.share, filepath.Join(s.share, "images")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	builds := make(chan error, 8)
	nb := 0
	build := func(f func() error) { nb++; go func() { builds <- f() }() }
	build(func() error { return goBuild(ctx, filepath.Join(s.share, "guestd"), "./hack/e2e/guestd") })
	build(func() error { return goBuild(ctx, filepath.Join(s.share, "connect"), "./hack/e2e-cluster/connect") })
	build(func() error { return goBuild(ctx, filepath.Join(s.dir, "fwd"), "./hack/e2e/fwd") })
	build(func() error { return s.buildImages(ctx) })
	build(func() error {
		return copyFile(filepath.Join(s.node, "kubelet"), filepath.Join(s.share, "kubelet"), 0o755)
	})

	var err error
	ports := make([]int, 7)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	etcdPort, etcdPeer, kcmPort, schedPort := ports[0], ports[1], ports[3], ports[4]
	s.apiPort, s.proxyPort = ports[2], ports[5]
	if s.pki, err = newPKI(filepath.Join(s.dir, "pki")); err != nil {
		return err
	}
	hostAPI := "https://127.0.0.1:" + strconv.Itoa(s.apiPort)
	s.kubeconfig = filepath.Join(s.dir, "kubeconfig")
	for stem, path := range map[string]string{
		"admin": s.kubeconfig, "controller-manager": filepath.Join(s.dir, "controller-manager.kubeconfig"),
		"scheduler": filepath.Join(s.dir, "scheduler.kubeconfig"),
	} {
		if err := s.pki.kubeconfig(path, stem, hostAPI); err != nil {
			return err
		}
	}
	if err := s.pki.kubeconfig(filepath.Join(s.share, "kubelet.kubeconfig"), "kubelet", fmt.Sprintf("https://%s:%d", guestAPIHost, s.apiPort)); err != nil {
		return err
	}
	if err := copyFile(s.pki.path("ca.crt"), filepath.Join(s.share, "ca.crt"), 0o644); err != nil {
		return err
	}
	if err := s.startEgressRelay(); err != nil {
		return err
	}
	began := time.Now()
	progress("starting the control plane in %s", s.dir)
	if err := s.startControlPlane(ctx, etcdPort, etcdPeer, kcmPort, schedPort); err != nil {
		return err
	}
	s.figure("control plane on the host (etcd, kube-apiserver /readyz, controller-manager and scheduler started): %.1fs", time.Since(began).Seconds())
	var buildErrs []error
	for range nb {
		buildErrs = append(buildErrs, <-builds)
	}
	if err := errors.Join(buildErrs...); err != nil {
		return err
	}
	progress("booting the guest")
	v, err := bootVM(ctx, vmConfig{
		image: image, dir: s.dir, share: s.share, fwd: filepath.Join(s.dir, "fwd"), apiPort: s.apiPort,
		guestAPI:  fmt.Sprintf("%s:%d", guestAPIHost, s.apiPort),
		memoryMiB: 2560,
		hostFwds:  []string{fmt.Sprintf("127.0.0.1:%d-:%d", s.proxyPort, proxyGuestPort)},
	})
	s.vm = v
	if err != nil {
		return err
	}
	s.figure("guest boot, QEMU start -> guest ready (udev settled, multipathd up, control daemon answering): %.1fs", time.Since(v.started).Seconds())
	return s.startNode(ctx)
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// buildImages builds the manager and agent binaries as `make images` does (the Dockerfile's
// flags) and the pause binary, and writes their images with hack/images into share/images:
// manager.tar, agent.tar (tag e2e1) and pause.tar.
func (s *system) buildImages(ctx context.Context) error {
	bin := filepath.Join(s.dir, "imagebin")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin+"/", "./cmd/manager", "./cmd/agent", "./hack/e2e-cluster/pause")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the images' binaries: %w\n%s", err, out)
	}
	cmd = exec.CommandContext(ctx, "go", "run", "./hack/images", "-bin", bin, "-out", filepath.Join(s.share, "images"), "-tag", "e2e1", "-pause", pauseImage)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("hack/images: %w\n%s", err, out)
	}
	s.figure("images (hack/images): %s", strings.Join(strings.Fields(string(out)), " "))
	return nil
}

// startEgressRelay listens on the unix socket the API server's egress selector dials for the
// "cluster" network (kubelets, pods, Service endpoints) and joins every connection to QEMU's
// host forward of the guest's CONNECT proxy: the control plane reaches the node's network only
// through it, as through a konnectivity agent.
func (s *system) startEgressRelay() error {
	l, err := net.Listen("unix", filepath.Join(s.dir, "egress.sock"))
	if err != nil {
		return err
	}
	s.egress = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				t, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.proxyPort))
				if err != nil {
					return
				}
				defer t.Close()
				done := make(chan struct{})
				go func() { _, _ = io.Copy(t, c); _ = t.(*net.TCPConn).CloseWrite(); close(done) }()
				_, _ = io.Copy(c, t)
				_ = c.(*net.UnixConn).CloseWrite()
				<-done
			}()
		}
	}()
	return nil
}

// startProc starts a host process with its output in <dir>/<name>.log; it dies with the test.
func (s *system) startProc(name, bin string, args ...string) (*hostProc, error) {
	logPath := filepath.Join(s.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &hostProc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); _ = f.Close(); close(p.exited) }()
	s.procMu.Lock()
	s.procs = append(s.procs, p)
	s.procMu.Unlock()
	return p, nil
}

// procsAlive fails when a control-plane process has exited, with its log's tail.
func (s *system) procsAlive() error {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	for _, p := range s.procs {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, tail(p.log, 30))
		default:
		}
	}
	return nil
}

func (s *system) startControlPlane(ctx context.Context, etcdPort, etcdPeer, kcmPort, schedPort int) error {
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	if _, err := s.startProc("etcd", filepath.Join(s.assets, "etcd"),
		"--data-dir="+filepath.Join(s.dir, "etcd"), "--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeer), fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeer),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", etcdPeer), "--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296",
	); err != nil {
		return err
	}
	// The "cluster" egress (everything the API server dials on the cluster's network: kubelets,
	// the webhook's endpoints) goes through the guest's CONNECT proxy, over the relay's socket.
	egress := filepath.Join(s.dir, "egress-selector.yaml")
	if err := os.WriteFile(egress, []byte(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: `+filepath.Join(s.dir, "egress.sock")+"\n"), 0o644); err != nil {
		return err
	}
	p := s.pki.path
	if _, err := s.startProc("apiserver", filepath.Join(s.assets, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(s.apiPort),
		// What the kubernetes Service's endpoint says: the guest's forward, on this port.
		"--advertise-address="+guestAPIHost,
		"--cert-dir="+filepath.Join(s.dir, "apiserver-certs"),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--kubelet-client-certificate="+p("apiserver-kubelet-client.crt"), "--kubelet-client-key="+p("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--egress-selector-config-file="+egress,
		// The webhook's Service resolved to its endpoints (pod IPs the CONNECT proxy reaches),
		// not to its ClusterIP: no kube-proxy on the node.
		"--enable-aggregator-routing=true",
		"--shutdown-watch-termination-grace-period=2s",
	); err != nil {
		return err
	}
	if err := s.waitReadyz(ctx); err != nil {
		return err
	}
	// The controller-manager and scheduler only now: started before /readyz, the
	// controller-manager exits when its service-account credentials are not bootstrapped yet.
	if _, err := s.startProc("controller-manager", filepath.Join(s.node, "kube-controller-manager"),
		"--kubeconfig="+filepath.Join(s.dir, "controller-manager.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(s.dir, "controller-manager.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(s.dir, "controller-manager.kubeconfig"),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(s.dir, "kcm-certs"),
		"--use-service-account-credentials", "--controllers=*",
		"--root-ca-file="+p("ca.crt"), "--service-account-private-key-file="+p("sa.key"),
		"--cluster-signing-cert-file="+p("ca.crt"), "--cluster-signing-key-file="+p("ca.key"),
		"--leader-elect=false",
	); err != nil {
		return err
	}
	if _, err := s.startProc("scheduler", filepath.Join(s.node, "kube-scheduler"),
		"--kubeconfig="+filepath.Join(s.dir, "scheduler.kubeconfig"),
		"--authentication-kubeconfig="+filepath.Join(s.dir, "scheduler.kubeconfig"),
		"--authorization-kubeconfig="+filepath.Join(s.dir, "scheduler.kubeconfig"),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+filepath.Join(s.dir, "scheduler-certs"),
		"--leader-elect=false",
	); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := mpv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if s.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	// The controller-manager must live past its start (it exits on a bootstrap it cannot do).
	time.Sleep(3 * time.Second)
	return s.procsAlive()
}

// waitReadyz waits until the API server's /readyz says ok, as the admin.
func (s *system) waitReadyz(ctx context.Context) error {
	ca, err := os.ReadFile(s.pki.path("ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(s.pki.path("admin.crt"), s.pki.path("admin.key"))
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", s.apiPort)
	return poll(ctx, 3*time.Minute, func() error {
		if err := s.procsAlive(); err != nil {
			return err
		}
		resp, err := hc.Get(url)
		if err != nil {
			time.Sleep(400 * time.Millisecond)
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			time.Sleep(400 * time.Millisecond)
			return fmt.Errorf("/readyz: %d: %s", resp.StatusCode, b)
		}
		return nil
	})
}

// Node configuration: containerd (cgroupfs, as the kubelet; the imported pause image), the CNI
// bridge, and the kubelet (cgroupfs; x509 clients of the cluster CA, authorized by the API
// server; a cluster DNS address that nothing serves: no pod here resolves names).
const containerdConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "` + pauseImage + `"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`

const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "e2e",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: /var/lib/kubelet/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
clusterDomain: cluster.local
clusterDNS: [10.0.0.10]
resolvConf: ""
failSwapOn: false
readOnlyPort: 0
serializeImagePulls: false
registerNode: true
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`

// startNode brings the node up on the guest, then waits until the Node is Ready.
func (s *system) startNode(ctx context.Context) error {
	began := time.Now()
	progress("setting the node up (modules, route, DNAT, proxy, containerd)")
	script := fmt.Sprintf(`set -e
for m in overlay bridge veth br_netfilter nf_conntrack nf_nat iptable_nat xt_MASQUERADE xt_conntrack; do modprobe $m 2>/dev/null || true; done
sysctl -qw net.ipv4.ip_forward=1
# The root mount shared, as systemd makes it on every real node (this guest's init is not
# systemd): a mountPropagation of HostToContainer (the agent's host root) needs it.
mount --make-rshared /
# A default route: without it the hostNetwork agent's dial of the Service, 10.0.0.1:443, fails
# with "network is unreachable" before the DNAT below is ever consulted.
ip route replace default via 10.0.2.2 dev eth0
# kube-proxy's stand-in: the kubernetes Service to the API server's forward, from the node
# (hostNetwork pods: OUTPUT) and from pods (PREROUTING).
for chain in OUTPUT PREROUTING; do
  iptables -t nat -A $chain -d 10.0.0.1/32 -p tcp --dport 443 -j DNAT --to-destination %[1]s:%[2]d
done
install -m 0755 /mnt/host/connect /usr/local/bin/e2e-connect
setsid /usr/local/bin/e2e-connect -listen :%[3]d > /run/connect.log 2>&1 < /dev/null &
mkdir -p /etc/containerd /etc/cni/net.d /var/lib/kubelet/pki
cat > /etc/containerd/config.toml <<'TOML'
%[4]sTOML
cat > /etc/cni/net.d/10-e2e.conflist <<'CNI'
%[5]sCNI
setsid containerd --config /etc/containerd/config.toml > /run/containerd.log 2>&1 < /dev/null &
for _ in $(seq 300); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
ctr version >/dev/null
`, guestAPIHost, s.apiPort, proxyGuestPort, containerdConfig, cniConfig)
	if _, err := s.vm.runTimeout(ctx, 3*time.Minute, script); err != nil {
		return fmt.Errorf("node setup: %w", err)
	}
	t0 := time.Now()
	progress("importing the images")
	if out, err := s.vm.runTimeout(ctx, 5*time.Minute, `set -e
for f in /mnt/host/images/*.tar; do ctr -n k8s.io images import "$f"; done
ctr -n k8s.io images ls -q`); err != nil {
		return fmt.Errorf("importing the images: %w", err)
	} else {
		s.figure("images imported into containerd in %.1fs: %s", time.Since(t0).Seconds(), strings.Join(strings.Fields(out), " "))
	}
	kubeletStart := time.Now()
	progress("starting the kubelet")
	if _, err := s.vm.runTimeout(ctx, 3*time.Minute, fmt.Sprintf(`set -e
install -m 0755 /mnt/host/kubelet /usr/local/bin/kubelet
cp /mnt/host/ca.crt /var/lib/kubelet/pki/ca.crt
cp /mnt/host/kubelet.kubeconfig /var/lib/kubelet/kubeconfig
cat > /var/lib/kubelet/config.yaml <<'YAML'
%sYAML
setsid /usr/local/bin/kubelet --config=/var/lib/kubelet/config.yaml --kubeconfig=/var/lib/kubelet/kubeconfig \
  --node-ip=%s --hostname-override=%s --v=2 > /run/kubelet.log 2>&1 < /dev/null &
echo $! > /run/kubelet.pid`, kubeletConfig, guestIP, nodeName)); err != nil {
		return fmt.Errorf("starting the kubelet: %w", err)
	}
	var dead error
	err := poll(ctx, 8*time.Minute, func() error {
		if dead = s.nodeAlive(ctx); dead != nil {
			return nil // no use waiting
		}
		n := &corev1.Node{}
		if err := s.c.Get(ctx, client.ObjectKey{Name: nodeName}, n); err != nil {
			time.Sleep(time.Second)
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return nil
				}
				time.Sleep(time.Second)
				return fmt.Errorf("node %s not Ready: %s: %s", nodeName, c.Reason, c.Message)
			}
		}
		time.Sleep(time.Second)
		return fmt.Errorf("node %s has no Ready condition yet", nodeName)
	})
	if err = errors.Join(err, dead); err != nil {
		return fmt.Errorf("waiting for the node: %w", err)
	}
	progress("node %s Ready", nodeName)
	s.figure("kubelet start -> Node Ready: %.1fs (node setup and image import before it: %.1fs)", time.Since(kubeletStart).Seconds(), kubeletStart.Sub(began).Seconds())
	return nil
}

// nodeAlive fails when a control-plane process, containerd, the kubelet or the CONNECT proxy has
// exited, with the log that says why.
func (s *system) nodeAlive(ctx context.Context) error {
	if err := s.procsAlive(); err != nil {
		return err
	}
	out, err := s.vm.runTimeout(ctx, 20*time.Second, `for p in containerd kubelet e2e-connect; do
  pgrep -x $p >/dev/null || { echo "$p is not running:"; case $p in e2e-connect) tail -20 /run/connect.log;; *) tail -30 /run/$p.log;; esac; }
done`)
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "" {
		return errors.New(out)
	}
	return nil
}

// kubectl runs the built kubectl as the admin and returns its output.
func kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(sys.node, "kubectl"), append([]string{"--kubeconfig", sys.kubeconfig}, args...)...)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// collectLogs copies the node's logs into the share (kubelet, containerd, the proxy, multipathd,
// dmesg, every pod's log) and records the pods and Events.
func (s *system) collectLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.vm != nil && s.vm.cmd != nil {
		_, _ = s.vm.runTimeout(ctx, 40*time.Second, `for f in kubelet containerd connect multipathd; do cp /run/$f.log /mnt/host/$f.log 2>/dev/null; done
dmesg > /mnt/host/dmesg.log; mkdir -p /mnt/host/pods; cp -rL /var/log/pods/. /mnt/host/pods/ 2>/dev/null; true`)
	}
	if s.c != nil && s.node != "" {
		for name, args := range map[string][]string{
			"pods.txt":   {"get", "pods", "-A", "-o", "wide"},
			"events.txt": {"get", "events", "-A", "--sort-by=.lastTimestamp"},
			"nodes.yaml": {"get", "nodes", "-o", "yaml"},
		} {
			out, _ := kubectl(ctx, args...)
			_ = os.WriteFile(filepath.Join(s.dir, name), []byte(out), 0o644)
		}
	}
}

func (s *system) stop() {
	if s.vm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		// The kubelet first, so containers do not restart while the guest stops.
		_, _ = s.vm.runTimeout(ctx, 20*time.Second, "pkill -x kubelet; sleep 1; true")
		cancel()
		s.vm.stop()
	}
	s.procMu.Lock()
	procs := s.procs
	s.procMu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if s.egress != nil {
		_ = s.egress.Close()
	}
}
