//go:build e2e

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
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// guestAPIAddr is where the guest reaches the API server: QEMU's user network hands each
// connection to it to a fwd process joined to the host's kube-apiserver, and to nothing else.
const guestAPIAddr = "10.0.2.100:6443"

// ctlPortName names the virtio-serial port guestd serves (hack/e2e/guestd).
const ctlPortName = "kube-multipath.e2e"

// lun is a SAN LUN the guest sees through two virtio-scsi HBAs: two SCSI paths with the same
// wwn and serial, which multipathd assembles into one map.
type lun struct {
	name   string
	wwn    string // QEMU's wwn= property; the WWID is "3" + its hex digits
	serial string
	size   string
	// paths is how many HBAs show it: 2 for a SAN LUN, 1 for the node's own disk.
	paths int
}

func (l lun) wwid() string { return "3" + strings.TrimPrefix(l.wwn, "0x") }

var (
	lun1 = lun{name: "lun1", wwn: "0x5000c50015ea71ad", serial: "KMPLUN1", size: "256M", paths: 2}
	lun2 = lun{name: "lun2", wwn: "0x5000c50015ea71ae", serial: "KMPLUN2", size: "256M", paths: 2}
	// hostLUN is a SAN LUN of the node's own that the operator never manages: its WWID is in the
	// image's /etc/multipath/wwids and bindings (hack/e2e/guest), so multipathd assembles it at
	// boot as mpatha under the host's user_friendly_names yes, as a RHEL node has it.
	hostLUN = lun{name: "hostlun", wwn: "0x5000c50015ea71af", serial: "KMPHOST1", size: "128M", paths: 2}
	// bootDisk is a single-path disk of the node's own: never multipathed, never touched.
	bootDisk = lun{name: "boot", wwn: "0x5000c50015ea7100", serial: "KMPBOOT0", size: "64M", paths: 1}
)

// vm is the QEMU guest: a real node with a real kernel, dm-multipath, udev and multipathd.
type vm struct {
	dir     string
	cmd     *exec.Cmd
	exited  chan error
	console string
	started time.Time

	conn    net.Conn
	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan reply
	readErr error
}

// request and reply are guestd's protocol (hack/e2e/guestd).
type request struct {
	ID      int64   `json:"id"`
	Script  string  `json:"script"`
	Timeout float64 `json:"timeout,omitempty"`
}

type reply struct {
	ID     int64  `json:"id"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
	Err    string `json:"err,omitempty"`
}

// vmConfig is what bootVM needs.
type vmConfig struct {
	// image holds vmlinuz, initrd.cpio.gz and root.img (hack/e2e/image.sh).
	image string
	// dir is the run's folder: overlay, LUN images, console log, control socket.
	dir string
	// share is exported to the guest as /mnt/host (9p): agent, guestd, kubeconfig, logs.
	share string
	// fwd is the forwarder binary; apiPort the host's kube-apiserver port on 127.0.0.1.
	fwd     string
	apiPort int
	// guestAPI is the address the guest dials for the API server (default guestAPIAddr).
	guestAPI string
	// memoryMiB is the guest's memory (default 1024; a kubelet and containerd need about 2 GiB).
	memoryMiB int
	// hostFwds are QEMU user-network host forwards, "127.0.0.1:HOSTPORT-:GUESTPORT" (the host
	// side reaching a guest port: make e2e-cluster's CONNECT proxy).
	hostFwds []string
}

// bootVM starts QEMU (TCG: KVM hangs on these machines) and returns once guestd answers.
func bootVM(ctx context.Context, c vmConfig) (*vm, error) {
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
		"-b", filepath.Join(c.image, "root.img"), filepath.Join(c.dir, "root.qcow2")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu-img: %w: %s", err, out)
	}
	if c.guestAPI == "" {
		c.guestAPI = guestAPIAddr
	}
	if c.memoryMiB == 0 {
		c.memoryMiB = 1024
	}
	args := []string{
		"-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", strconv.Itoa(c.memoryMiB),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "file:" + filepath.Join(c.dir, "console.log"),
		"-kernel", filepath.Join(c.image, "vmlinuz"), "-initrd", filepath.Join(c.image, "initrd.cpio.gz"),
		"-append", "console=ttyS0 loglevel=4 panic=-1 net.ifnames=0",
		"-drive", "file=" + filepath.Join(c.dir, "root.qcow2") + ",if=none,id=root,format=qcow2",
		"-device", "virtio-blk-pci,drive=root",
		"-device", "virtio-scsi-pci,id=scsi0", "-device", "virtio-scsi-pci,id=scsi1",
	}
	for i, l := range []lun{lun1, lun2, hostLUN, bootDisk} {
		img := filepath.Join(c.dir, l.name+".img")
		if out, err := exec.CommandContext(ctx, "truncate", "-s", l.size, img).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("truncate: %w: %s", err, out)
		}
		for p := range l.paths {
			id := fmt.Sprintf("%sp%d", l.name, p)
			// Both paths open the same file: share-rw lets two devices write it, as two HBAs
			// reach one array LUN.
			args = append(args,
				"-drive", fmt.Sprintf("file=%s,if=none,id=%s,format=raw,file.locking=off", img, id),
				"-device", fmt.Sprintf("scsi-hd,bus=scsi%d.0,scsi-id=%d,lun=0,drive=%s,wwn=%s,serial=%s,share-rw=on", p, i, id, l.wwn, l.serial))
		}
	}
	sock := filepath.Join(c.dir, "ctl.sock")
	netdev := fmt.Sprintf("user,id=n0,restrict=on,guestfwd=tcp:%s-cmd:%s 127.0.0.1 %d", c.guestAPI, c.fwd, c.apiPort)
	for _, f := range c.hostFwds {
		netdev += ",hostfwd=tcp:" + f
	}
	args = append(args,
		"-virtfs", "local,path="+c.share+",mount_tag=host0,security_model=none,id=host0",
		// restrict=on: the guest reaches nothing on the host or beyond but the forward (host
		// forwards still reach the guest).
		"-netdev", netdev,
		"-device", "virtio-net-pci,netdev=n0",
		"-chardev", "socket,id=ctl,path="+sock+",server=on,wait=off",
		"-device", "virtio-serial-pci", "-device", "virtserialport,chardev=ctl,name="+ctlPortName,
	)
	cmd := exec.Command("qemu-system-x86_64", args...)
	log, err := os.Create(filepath.Join(c.dir, "qemu.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	// QEMU dies with the test process, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := os.WriteFile(filepath.Join(c.dir, "qemu.cmdline"), []byte(strings.Join(cmd.Args, " ")+"\n"), 0o644); err != nil {
		return nil, err
	}
	v := &vm{dir: c.dir, console: filepath.Join(c.dir, "console.log"), exited: make(chan error, 1), waiting: map[int64]chan reply{}}
	v.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting QEMU: %w", err)
	}
	v.cmd = cmd
	go func() { v.exited <- cmd.Wait(); _ = log.Close() }()
	if err := v.connect(ctx, sock); err != nil {
		v.stop()
		return nil, err
	}
	return v, nil
}

// connect dials the control socket and pings guestd until it answers (the guest has booted).
func (v *vm) connect(ctx context.Context, sock string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			v.conn = conn
			break
		}
		if err := v.checkAlive(deadline); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	go v.readLoop()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := v.runTimeout(pctx, time.Second, "true")
		cancel()
		if err == nil {
			return nil
		}
		if err := v.checkAlive(deadline); err != nil {
			return err
		}
	}
}

func (v *vm) checkAlive(deadline time.Time) error {
	select {
	case err := <-v.exited:
		v.exited <- err
		return fmt.Errorf("QEMU exited: %v\n%s", err, v.consoleTail(40))
	default:
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("the guest did not come up within 5 minutes\n%s", v.consoleTail(40))
	}
	return nil
}

func (v *vm) readLoop() {
	sc := bufio.NewScanner(v.conn)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r reply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a partial line left from before the guest opened the port
		}
		v.mu.Lock()
		ch := v.waiting[r.ID]
		delete(v.waiting, r.ID)
		v.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	v.mu.Lock()
	v.readErr = fmt.Errorf("the control connection ended: %v", sc.Err())
	for id, ch := range v.waiting {
		close(ch)
		delete(v.waiting, id)
	}
	v.mu.Unlock()
}

// run runs a bash script as root in the guest and returns its stdout; a non-zero exit is an
// error carrying stderr. The default timeout is a minute.
func (v *vm) run(ctx context.Context, script string) (string, error) {
	return v.runTimeout(ctx, time.Minute, script)
}

func (v *vm) runTimeout(ctx context.Context, timeout time.Duration, script string) (string, error) {
	v.mu.Lock()
	if v.readErr != nil {
		v.mu.Unlock()
		return "", v.readErr
	}
	v.nextID++
	req := request{ID: v.nextID, Script: script, Timeout: timeout.Seconds()}
	ch := make(chan reply, 1)
	v.waiting[req.ID] = ch
	b, _ := json.Marshal(req)
	_, err := v.conn.Write(append(b, '\n'))
	v.mu.Unlock()
	if err != nil {
		return "", err
	}
	t := time.NewTimer(timeout + 10*time.Second)
	defer t.Stop()
	select {
	case r, ok := <-ch:
		if !ok {
			return "", v.readErr
		}
		if r.Code != 0 || r.Err != "" {
			return r.Stdout, fmt.Errorf("guest: %q: exit %d %s: %s", firstLine(script), r.Code, r.Err, strings.TrimSpace(r.Stderr))
		}
		return r.Stdout, nil
	case <-ctx.Done():
	case <-t.C:
	}
	v.mu.Lock()
	delete(v.waiting, req.ID)
	v.mu.Unlock()
	return "", fmt.Errorf("guest: %q: no answer within %s", firstLine(script), timeout)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// consoleTail returns the last n lines of the serial console.
func (v *vm) consoleTail(n int) string {
	b, _ := os.ReadFile(v.console)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "console:\n" + strings.Join(lines, "\n")
}

// stop powers the guest off (a clean multipathd stop first) and kills QEMU if it lingers.
func (v *vm) stop() {
	if v.cmd == nil {
		return
	}
	if v.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = v.runTimeout(ctx, 5*time.Second, "sync; (sleep 0.5; echo o > /proc/sysrq-trigger) >/dev/null 2>&1 &")
		cancel()
	}
	select {
	case <-v.exited:
	case <-time.After(15 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.exited
	}
	if v.conn != nil {
		_ = v.conn.Close()
	}
	v.cmd = nil
}

var errNoTools = errors.New("missing host tools")
