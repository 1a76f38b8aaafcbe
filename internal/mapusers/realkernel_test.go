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

package mapusers

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/mountns"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// loopDevice makes a 16 MiB ext2 image on a loop device, removed at the end of the test.
func loopDevice(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a loop device and a mount")
	}
	for _, tool := range []string{"losetup", "mkfs.ext2"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext2", "-q", "-F", img)
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// mountPrivately mounts dev on a fresh directory in a private mount namespace (the host's mount
// table never sees it) and returns the directory and the pid of a process inside, whose
// mountinfo holds the mount. The process and the namespace end with the test.
func mountPrivately(t *testing.T, dev string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `mount "$1" "$2" && echo mounted && exec sleep 300`, "sh", dev, dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	p, err := mountns.View{Root: "/", EtcMultipath: t.TempDir()}.Start(cmd)
	if err != nil {
		t.Skipf("no private mount namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.Done
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "mounted\n" {
		t.Fatalf("mount %s in a private namespace: %q %s", dev, line, stderr.String())
	}
	return dir, cmd.Process.Pid
}

// TestMountReadFromTheRealKernel mounts a real block device in a private mount namespace and
// reads it back through the kernel's sysfs and mountinfo: a loop device everywhere, and a real
// device-mapper device over it (with its open count from the DM_DEV_STATUS ioctl) where the
// kernel has device-mapper.
func TestMountReadFromTheRealKernel(t *testing.T) {
	t.Run("loop device", func(t *testing.T) {
		dev := loopDevice(t)
		dir, pid := mountPrivately(t, dev)
		r := &Reader{Root: "/", MountPID: pid, OpenCount: func(uint64) (int32, error) { return 0, nil }}
		got, err := r.Read([]Map{{Kernel: filepath.Base(dev)}})
		if err != nil {
			t.Fatal(err)
		}
		want := []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: dir}}
		if u := got[filepath.Base(dev)]; !reflect.DeepEqual(u.Users, want) {
			t.Fatalf("users = %+v, want %+v", u.Users, want)
		}
		// The host's own mount table does not have it.
		host, err := (&Reader{Root: "/", OpenCount: r.OpenCount}).Read([]Map{{Kernel: filepath.Base(dev)}})
		if err != nil {
			t.Fatal(err)
		}
		if u := host[filepath.Base(dev)]; len(u.Users) != 0 {
			t.Fatalf("the host's mount table shows %+v for a privately mounted device", u.Users)
		}
	})
	t.Run("device-mapper", func(t *testing.T) {
		misc, _ := os.ReadFile("/proc/misc")
		if !bytes.Contains(misc, []byte(" device-mapper\n")) {
			t.Skip("this kernel has no device-mapper (not in /proc/misc)")
		}
		if _, err := exec.LookPath("dmsetup"); err != nil {
			t.Skip("needs dmsetup")
		}
		loop := loopDevice(t)
		sectors := run(t, "blockdev", "--getsz", loop)
		name := "kube-multipath-mapusers-test"
		run(t, "dmsetup", "create", name, "--table", "0 "+sectors+" linear "+loop+" 0")
		t.Cleanup(func() { _ = exec.Command("dmsetup", "remove", "--retry", name).Run() })
		target, err := filepath.EvalSymlinks("/dev/mapper/" + name)
		if err != nil {
			t.Fatal(err)
		}
		kernel := filepath.Base(target)

		r := &Reader{Root: "/"}
		got, err := r.Read([]Map{{Kernel: kernel}})
		if err != nil {
			t.Fatal(err)
		}
		if u := got[kernel]; u.OpenCount != 0 || len(u.Users) != 0 {
			t.Fatalf("a fresh map: %+v, want open count 0 and no users", u)
		}
		dir, pid := mountPrivately(t, "/dev/mapper/"+name)
		r.MountPID = pid
		got, err = r.Read([]Map{{Kernel: kernel}})
		if err != nil {
			t.Fatal(err)
		}
		want := Usage{OpenCount: 1, Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: dir}}}
		if !reflect.DeepEqual(got[kernel], want) {
			t.Fatalf("mounted map: %+v, want %+v", got[kernel], want)
		}
	})
}
