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

// Package mapusers finds what holds each multipath map on a node, from the kernel: its open
// count (the DM_DEV_STATUS ioctl), the block devices stacked on it (/sys/block/dm-N/holders:
// LVM logical volumes, kpartx partitions, dm-crypt), mounts of it or of anything stacked on it
// (the host's /proc/1/mountinfo), active swap (/proc/swaps) and an LVM physical volume label.
// A map with an open count and none of those is held by a process (a database, a VM).
//
// Every path is under a host root, so tests build a fake sysfs and procfs; the open count
// comes from an injectable function. It runs with every map report, so it reads the mount and
// swap tables once per call and a few small sysfs files per map (see the benchmark).
//
// The open count is read with the ioctl, not `dmsetup info`: one system call per map on a
// descriptor opened once per call, where dmsetup is a process per call (or parsing its table
// output for all maps, which also needs the binary in the agent's image).
package mapusers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// MaxUsers is how many users one map reports (MapStatus.users' MaxItems).
const MaxUsers = 16

// maxName bounds a user's name (MapUser.name's MaxLength).
const maxName = 256

// maxDepth bounds the walk up the holders (a map, an LV on it, dm-crypt on that, ...).
const maxDepth = 8

// Usage is what holds one map.
type Usage struct {
	// OpenCount is the kernel's open count; -1 when it could not be read.
	OpenCount int32
	// Users are sorted by kind and name, at most MaxUsers.
	Users []mpv1alpha1.MapUser
}

// Map names a map to read.
type Map struct {
	// Kernel is its kernel name, dm-N (multipathd's sysfs field).
	Kernel string
	// Probe allows reading the device's first 4 sectors for an LVM label when the udev
	// database does not say. Only for a map with a usable path: I/O to a map without one can
	// queue forever.
	Probe bool
}

// Reader reads map users under a host root.
type Reader struct {
	// Root is the host's root ("/" on the node itself); sysfs, procfs, /dev and /run/udev are
	// read under it.
	Root string
	// MountPID is the process whose mount table counts; 0 means 1, the host's init, whose
	// mount namespace is the host's.
	MountPID int
	// OpenCount returns the open count of the device mapper device dev; nil reads it with
	// DM_DEV_STATUS on <Root>/dev/mapper/control.
	OpenCount func(dev uint64) (int32, error)
}

// Read returns the usage of each map, by kernel name. A map whose sysfs entry is gone (removed
// meanwhile) is left out. The error says what could not be read (the open counts, the mount
// table); what could is still returned.
func (r *Reader) Read(maps []Map) (map[string]Usage, error) {
	var errs []error
	pid := r.MountPID
	if pid == 0 {
		pid = 1
	}
	mounts, err := readMounts(r.path("proc", strconv.Itoa(pid), "mountinfo"))
	if err != nil {
		errs = append(errs, err)
	}
	swaps, err := r.readSwaps()
	if err != nil {
		errs = append(errs, err)
	}
	openCount := r.OpenCount
	if openCount == nil && len(maps) > 0 {
		ctl, err := OpenControl(r.path("dev", "mapper", "control"))
		if err != nil {
			errs = append(errs, err)
			openCount = func(uint64) (int32, error) { return -1, nil }
		} else {
			defer ctl.Close()
			openCount = ctl.OpenCount
		}
	}
	out := make(map[string]Usage, len(maps))
	var countErr error
	for _, m := range maps {
		dev, err := r.devNum(m.Kernel)
		if err != nil {
			continue
		}
		u := Usage{OpenCount: -1}
		if n, err := openCount(dev); err == nil {
			u.OpenCount = n
		} else if countErr == nil {
			countErr = fmt.Errorf("open count of %s: %w", m.Kernel, err)
		}
		var users []mpv1alpha1.MapUser
		held := false
		r.walk(m.Kernel, dev, 0, func(kernel string, dev uint64, depth int) {
			if depth == 1 {
				users = append(users, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserHolder, Name: r.dmName(kernel)})
				held = true
			}
			for _, mp := range mounts[dev] {
				users = append(users, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserMount, Name: mp})
				held = true
			}
			if swaps[kernel] {
				users = append(users, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserSwap, Name: "/dev/" + kernel})
				held = true
			}
		})
		if r.isPV(m, dev) {
			users = append(users, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserLVMPhysicalVolume})
		}
		if u.OpenCount > 0 && !held {
			users = append(users, mpv1alpha1.MapUser{Kind: mpv1alpha1.MapUserOpen})
		}
		u.Users = tidy(users)
		out[m.Kernel] = u
	}
	if countErr != nil {
		errs = append(errs, countErr)
	}
	return out, errors.Join(errs...)
}

func (r *Reader) path(elem ...string) string {
	return filepath.Join(append([]string{r.Root}, elem...)...)
}

// walk calls f for kernel and each device stacked on it, with its depth (0 for kernel).
func (r *Reader) walk(kernel string, dev uint64, depth int, f func(kernel string, dev uint64, depth int)) {
	f(kernel, dev, depth)
	if depth >= maxDepth {
		return
	}
	holders, err := os.ReadDir(r.path("sys", "block", kernel, "holders"))
	if err != nil {
		return
	}
	for _, h := range holders {
		hdev, err := r.devNum(h.Name())
		if err != nil {
			continue
		}
		r.walk(h.Name(), hdev, depth+1, f)
	}
}

// devNum reads /sys/block/<kernel>/dev, "253:3".
func (r *Reader) devNum(kernel string) (uint64, error) {
	if kernel == "" || strings.ContainsAny(kernel, "/") || kernel == "." || kernel == ".." {
		return 0, fmt.Errorf("invalid kernel name %q", kernel)
	}
	b, err := os.ReadFile(r.path("sys", "block", kernel, "dev"))
	if err != nil {
		return 0, err
	}
	return parseDev(strings.TrimSpace(string(b)))
}

func parseDev(s string) (uint64, error) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("device number %q is not major:minor", s)
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("device number %q is not major:minor", s)
	}
	return unix.Mkdev(uint32(a), uint32(b)), nil
}

// dmName is a holder's device-mapper name (vg-lv, the kpartx partition, the crypt mapping),
// or its kernel name when it is not a dm device.
func (r *Reader) dmName(kernel string) string {
	b, err := os.ReadFile(r.path("sys", "block", kernel, "dm", "name"))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return kernel
	}
	return string(bytes.TrimSpace(b))
}

// readMounts indexes a mountinfo file by device number: field 3 is major:minor, field 5 the
// mount point (octal escapes as the kernel writes them: \040 for a blank).
func readMounts(path string) (map[uint64][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	out := map[uint64][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		dev, err := parseDev(fields[2])
		if err != nil || unix.Major(dev) == 0 {
			continue // virtual file systems have major 0
		}
		out[dev] = append(out[dev], unescape(fields[4]))
	}
	return out, sc.Err()
}

// unescape undoes the kernel's octal escapes of blank, tab, newline and backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readSwaps returns the kernel names of the block devices in /proc/swaps: /dev/dm-N directly,
// /dev/mapper/NAME through its link (swap files live on a mounted file system, which the
// mount already reports).
func (r *Reader) readSwaps() (map[string]bool, error) {
	b, err := os.ReadFile(r.path("proc", "swaps"))
	if err != nil {
		return nil, fmt.Errorf("swap table: %w", err)
	}
	out := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if i == 0 || len(fields) < 2 || fields[1] != "partition" {
			continue
		}
		name := unescape(fields[0])
		switch {
		case strings.HasPrefix(name, "/dev/mapper/"):
			target, err := os.Readlink(r.path("dev", "mapper", strings.TrimPrefix(name, "/dev/mapper/")))
			if err == nil {
				out[filepath.Base(target)] = true
			}
		case strings.HasPrefix(name, "/dev/"):
			out[strings.TrimPrefix(name, "/dev/")] = true
		}
	}
	return out, nil
}

// isPV tells whether the map carries an LVM physical volume label: udev's blkid probe
// (ID_FS_TYPE=LVM2_member in /run/udev/data/b<major>:<minor>) when udev recorded the device,
// else, for a map that may be probed, the label itself.
func (r *Reader) isPV(m Map, dev uint64) bool {
	b, err := os.ReadFile(r.path("run", "udev", "data", fmt.Sprintf("b%d:%d", unix.Major(dev), unix.Minor(dev))))
	if err == nil {
		return bytes.Contains(b, []byte("\nE:ID_FS_TYPE=LVM2_member\n")) || bytes.HasPrefix(b, []byte("E:ID_FS_TYPE=LVM2_member\n"))
	}
	if !m.Probe {
		return false
	}
	pv, _ := ReadPVLabel(r.path("dev", m.Kernel))
	return pv
}

// ReadPVLabel reports whether the device at path carries an LVM2 label: "LABELONE" at the start
// of one of its first 4 sectors, with type "LVM2 001" 24 bytes further (lib/label/label.h).
// The volume group's name is not read: it is in the metadata area's text, further away.
func ReadPVLabel(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 4*512)
	n, err := f.ReadAt(buf, 0)
	if n < len(buf) && err != nil && n < 512 {
		return false, err
	}
	for s := 0; s+32 <= n; s += 512 {
		if string(buf[s:s+8]) == "LABELONE" && string(buf[s+24:s+32]) == "LVM2 001" {
			return true, nil
		}
	}
	return false, nil
}

// tidy sorts users by kind then name, drops duplicates (a bind mount of the same point seen
// twice) and bounds the list and each name to the API's limits.
func tidy(users []mpv1alpha1.MapUser) []mpv1alpha1.MapUser {
	for i := range users {
		if len(users[i].Name) > maxName {
			users[i].Name = users[i].Name[:maxName]
		}
	}
	slices.SortFunc(users, func(a, b mpv1alpha1.MapUser) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	users = slices.Compact(users)
	if len(users) > MaxUsers {
		users = users[:MaxUsers]
	}
	return users
}

// Control is an open /dev/mapper/control.
type Control struct{ f *os.File }

// OpenControl opens the device mapper control device (needs CAP_SYS_ADMIN for the ioctls).
func OpenControl(path string) (*Control, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("device mapper control: %w", err)
	}
	return &Control{f: f}, nil
}

// Close closes it.
func (c *Control) Close() error { return c.f.Close() }

// OpenCount asks the kernel for the open count of the device mapper device dev
// (DM_DEV_STATUS, looked up by device number: name and uuid left empty).
func (c *Control) OpenCount(dev uint64) (int32, error) {
	var io unix.DmIoctl
	io.Version = [3]uint32{4, 0, 0}
	io.Data_size = uint32(unsafe.Sizeof(io))
	io.Data_start = uint32(unsafe.Sizeof(io))
	io.Dev = dev
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, c.f.Fd(), unix.DM_DEV_STATUS, uintptr(unsafe.Pointer(&io))); errno != 0 {
		return -1, fmt.Errorf("DM_DEV_STATUS %d:%d: %w", unix.Major(dev), unix.Minor(dev), errno)
	}
	return io.Open_count, nil
}
