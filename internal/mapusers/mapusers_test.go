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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// tree builds a fake host root: sysfs block devices, the mount and swap tables, /dev links.
type tree struct {
	t     testing.TB
	root  string
	mount strings.Builder
	swaps strings.Builder
}

func newTree(t testing.TB) *tree {
	tr := &tree{t: t, root: t.TempDir()}
	tr.swaps.WriteString("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
	// The root file system and a virtual one, as every mountinfo has.
	tr.mount.WriteString("22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n")
	tr.mount.WriteString("23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n")
	return tr
}

func (tr *tree) write(rel, content string) {
	tr.t.Helper()
	p := filepath.Join(tr.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// dm adds dm-<minor> named name, with holders (kernel names).
func (tr *tree) dm(minor int, name string, holders ...string) string {
	tr.t.Helper()
	k := fmt.Sprintf("dm-%d", minor)
	tr.write("sys/block/"+k+"/dev", fmt.Sprintf("253:%d\n", minor))
	tr.write("sys/block/"+k+"/dm/name", name+"\n")
	if err := os.MkdirAll(filepath.Join(tr.root, "sys/block", k, "holders"), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	for _, h := range holders {
		if err := os.Symlink("../../"+h, filepath.Join(tr.root, "sys/block", k, "holders", h)); err != nil {
			tr.t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tr.root, "dev/mapper"), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	_ = os.Symlink("../"+k, filepath.Join(tr.root, "dev/mapper", name))
	return k
}

func (tr *tree) mounted(minor int, at string) {
	fmt.Fprintf(&tr.mount, "%d 22 253:%d / %s rw,relatime shared:%d - xfs /dev/mapper/x rw\n", 100+minor, minor, at, 100+minor)
}

func (tr *tree) swap(dev string) {
	fmt.Fprintf(&tr.swaps, "%s                               partition\t8388604\t\t0\t\t-2\n", dev)
}

func (tr *tree) reader(counts map[int]int32) *Reader {
	tr.write("proc/1/mountinfo", tr.mount.String())
	tr.write("proc/swaps", tr.swaps.String())
	return &Reader{Root: tr.root, OpenCount: func(dev uint64) (int32, error) {
		if unix.Major(dev) != 253 {
			return -1, errors.New("not a dm device")
		}
		return counts[int(unix.Minor(dev))], nil
	}}
}

func TestRead(t *testing.T) {
	tr := newTree(t)
	free := tr.dm(0, "free")
	mounted := tr.dm(1, "mounted")
	tr.mounted(1, "/srv/data")
	tr.mounted(1, `/var/lib/my\040disk`)
	pv := tr.dm(2, "pv", "dm-10", "dm-11")
	tr.dm(10, "vg0-lv0")
	tr.dm(11, "vg0-lv1", "dm-12")
	tr.dm(12, "crypt0")
	tr.mounted(12, "/secret")
	tr.write("run/udev/data/b253:2", "S:disk/by-id/dm-uuid-mpath-3600a\nE:ID_FS_TYPE=LVM2_member\nE:ID_FS_USAGE=raid\n")
	parted := tr.dm(3, "parted", "dm-13")
	tr.dm(13, "parted1")
	tr.mounted(13, "/boot")
	swapped := tr.dm(4, "swapped")
	tr.swap("/dev/mapper/swapped")
	swapped2 := tr.dm(5, "swapped2")
	tr.swap("/dev/dm-5")
	opened := tr.dm(6, "opened")
	label := tr.dm(7, "label")
	tr.write("dev/dm-7", strings.Repeat("\x00", 512)+"LABELONE"+strings.Repeat("\x01", 16)+"LVM2 001"+strings.Repeat("\x00", 1024))
	unprobed := tr.dm(8, "unprobed")
	tr.write("dev/dm-8", "LABELONE"+strings.Repeat("\x01", 16)+"LVM2 001")

	r := tr.reader(map[int]int32{1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 3})
	got, err := r.Read([]Map{
		{Kernel: free}, {Kernel: mounted}, {Kernel: pv}, {Kernel: parted}, {Kernel: swapped},
		{Kernel: swapped2}, {Kernel: opened}, {Kernel: label, Probe: true}, {Kernel: unprobed},
		{Kernel: "dm-99"},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := func(kind mpv1alpha1.MapUserKind, name string) mpv1alpha1.MapUser {
		return mpv1alpha1.MapUser{Kind: kind, Name: name}
	}
	want := map[string]Usage{
		free:    {OpenCount: 0},
		mounted: {OpenCount: 1, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserMount, "/srv/data"), u(mpv1alpha1.MapUserMount, "/var/lib/my disk")}},
		pv: {OpenCount: 2, Users: []mpv1alpha1.MapUser{
			u(mpv1alpha1.MapUserHolder, "vg0-lv0"), u(mpv1alpha1.MapUserHolder, "vg0-lv1"),
			u(mpv1alpha1.MapUserLVMPhysicalVolume, ""), u(mpv1alpha1.MapUserMount, "/secret"),
		}},
		parted:   {OpenCount: 1, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserHolder, "parted1"), u(mpv1alpha1.MapUserMount, "/boot")}},
		swapped:  {OpenCount: 1, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserSwap, "/dev/dm-4")}},
		swapped2: {OpenCount: 1, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserSwap, "/dev/dm-5")}},
		opened:   {OpenCount: 3, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserOpen, "")}},
		label:    {OpenCount: 0, Users: []mpv1alpha1.MapUser{u(mpv1alpha1.MapUserLVMPhysicalVolume, "")}},
		unprobed: {OpenCount: 0},
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: got %+v, want %+v", k, got[k], want[k])
			}
		}
		t.Fatalf("got %d maps, want %d", len(got), len(want))
	}
}

func TestReadSaysWhatItCouldNotRead(t *testing.T) {
	tr := newTree(t)
	k := tr.dm(0, "m")
	tr.mounted(0, "/x")
	tr.write("proc/1/mountinfo", tr.mount.String())
	// No /proc/swaps, no /dev/mapper/control.
	r := &Reader{Root: tr.root}
	got, err := r.Read([]Map{{Kernel: k}})
	if err == nil || !strings.Contains(err.Error(), "swap table") || !strings.Contains(err.Error(), "device mapper control") {
		t.Fatalf("error = %v, want it to name the swap table and the control device", err)
	}
	want := Usage{OpenCount: -1, Users: []mpv1alpha1.MapUser{{Kind: mpv1alpha1.MapUserMount, Name: "/x"}}}
	if !reflect.DeepEqual(got[k], want) {
		t.Fatalf("got %+v, want %+v: what could be read is still reported", got[k], want)
	}
}

func TestUsersAreBounded(t *testing.T) {
	tr := newTree(t)
	k := tr.dm(0, "m")
	for i := 0; i < 40; i++ {
		tr.mounted(0, fmt.Sprintf("/m%02d/%s", i, strings.Repeat("x", 300)))
	}
	got, err := tr.reader(nil).Read([]Map{{Kernel: k}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got[k].Users); n != MaxUsers {
		t.Fatalf("%d users, want %d", n, MaxUsers)
	}
	for _, u := range got[k].Users {
		if len(u.Name) > 256 {
			t.Fatalf("name of %d bytes, want at most 256", len(u.Name))
		}
	}
}

// BenchmarkRead1000Maps reads the users of 1,000 maps, one in ten mounted and one in ten with
// an LV on it, from a fake tree: what every map report costs on a large node.
func BenchmarkRead1000Maps(b *testing.B) {
	tr := newTree(b)
	var maps []Map
	for i := 0; i < 1000; i++ {
		var holders []string
		if i%10 == 1 {
			holders = []string{fmt.Sprintf("dm-%d", 5000+i)}
			tr.dm(5000+i, fmt.Sprintf("vg%d-lv", i))
		}
		k := tr.dm(i, fmt.Sprintf("map%d", i), holders...)
		if i%10 == 0 {
			tr.mounted(i, fmt.Sprintf("/mnt/%d", i))
		}
		maps = append(maps, Map{Kernel: k, Probe: true})
	}
	r := tr.reader(map[int]int32{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Read(maps); err != nil {
			b.Fatal(err)
		}
	}
}
