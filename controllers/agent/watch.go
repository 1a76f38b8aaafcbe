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

package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kube-multipath/kube-multipath/internal/hostfs"
)

// debouncer calls fire once, delay after the last of a burst of kicks, and, when early is set,
// also early after the first kick of a burst.
type debouncer struct {
	delay time.Duration
	// early, when not zero, fires once soon after the first kick of a burst as well: a single
	// event is then seen within early, not delay, while the trailing fire still comes after
	// the whole burst.
	early time.Duration
	fire  func()
	kick  chan struct{}
}

func newDebouncer(delay time.Duration, fire func()) *debouncer {
	return &debouncer{delay: delay, fire: fire, kick: make(chan struct{}, 1)}
}

func (d *debouncer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *debouncer) run(ctx context.Context) {
	var timer, soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			if d.early > 0 && timer == nil {
				soon = time.After(d.early) // the first kick of a burst
			}
			timer = time.After(d.delay)
		case <-soon:
			soon = nil
			d.fire()
		case <-timer:
			timer = nil
			d.fire()
		}
	}
}

// FileWatcher asks for a pass when a multipath configuration file under the host root changes:
// the agent's drop-ins and /etc/multipath/wwids (drift), and the host's own files whose facts
// the agent reports (/etc/multipath.conf, every *.conf drop-in, /etc/multipath/bindings). It
// runs until its context ends (cmd/agent/app). When inotify is not available it logs why and
// leaves both to the periodic pass.
type FileWatcher struct {
	// Root is the host root.
	Root string
	// Trigger is called (debounced) on a change.
	Trigger func()
	// Debounce is the quiet time before Trigger; 0 means 500 ms.
	Debounce time.Duration
}

// watched tells whether a change to the file at path (under the host root) matters: the
// names in /etc/multipath, *.conf in conf.d (ours and the host's), /etc/multipath.conf.
func (w *FileWatcher) watched(path string) bool {
	dir, name := filepath.Dir(path), filepath.Base(path)
	switch dir {
	case filepath.Join(w.Root, filepath.FromSlash(hostfs.ConfDir)):
		return strings.HasSuffix(name, ".conf")
	case filepath.Join(w.Root, filepath.FromSlash(hostfs.EtcMultipathDir)):
		return name == filepath.Base(hostfs.WWIDsPath) || name == "bindings"
	case filepath.Join(w.Root, "etc"):
		return name == "multipath.conf"
	}
	return false
}

// Start watches until ctx ends.
func (w *FileWatcher) Start(ctx context.Context) error {
	log := log.FromContext(ctx).WithName("file-watcher")
	delay := w.Debounce
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error(err, "Cannot watch the owned files; drift is found by the periodic pass only")
		<-ctx.Done()
		return nil
	}
	defer watcher.Close()
	confd := filepath.Join(w.Root, filepath.FromSlash(hostfs.ConfDir))
	if err := os.MkdirAll(confd, 0o755); err != nil {
		log.Error(err, "Cannot create the drop-in directory", "dir", confd)
	}
	for _, dir := range []string{filepath.Join(w.Root, "etc"), filepath.Join(w.Root, filepath.FromSlash(hostfs.EtcMultipathDir)), confd} {
		if err := watcher.Add(dir); err != nil {
			log.Error(err, "Cannot watch a directory; drift there is found by the periodic pass only", "dir", dir)
		}
	}
	d := newDebouncer(delay, w.Trigger)
	go d.run(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-watcher.Events:
			if !ok {
				return nil
			}
			if w.watched(ev.Name) {
				d.Kick()
			}
		case err, ok := <-watcher.Errors:
			if !ok {
				return nil
			}
			log.Error(err, "File watch error")
			d.Kick() // events may have been lost: look
		}
	}
}

// UeventListener asks for a pass when the kernel reports a device-mapper event (a multipath
// path failed or was reinstated, a map appeared or went away), so that path failures show
// within about a second. It needs the host's network namespace (kernel uevents go to the
// initial one). It runs until its context ends; without netlink it logs why and leaves the
// maps to the periodic pass.
type UeventListener struct {
	// Trigger is called (debounced) on a device-mapper uevent.
	Trigger func()
	// Debounce is the quiet time before Trigger: multipathd handles the event first. 0 means
	// 1 second.
	Debounce time.Duration
	// Early is when Trigger is also called after the first event of a burst, so that a single
	// path failure shows without waiting for the quiet time (on a real node the 1 s quiet time
	// was most of path failure -> status; multipathd has handled the event within a few
	// milliseconds). The pass after the quiet time still follows. 0 means 200 ms; negative
	// turns it off.
	Early time.Duration
}

// Start watches until ctx ends.
func (l *UeventListener) Start(ctx context.Context) error {
	log := log.FromContext(ctx).WithName("uevent-listener")
	delay := l.Debounce
	if delay <= 0 {
		delay = time.Second
	}
	fd, err := openUeventSocket()
	if err != nil {
		log.Error(err, "Cannot listen to kernel uevents; maps are refreshed by the periodic pass only")
		<-ctx.Done()
		return nil
	}
	defer syscall.Close(fd)
	d := newDebouncer(delay, l.Trigger)
	d.early = l.Early
	if d.early == 0 {
		d.early = 200 * time.Millisecond
	}
	go d.run(ctx)
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		switch {
		case err == nil:
			if IsDeviceMapperUevent(buf[:n]) {
				d.Kick()
			}
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.ENOBUFS):
			d.Kick() // the kernel dropped events: look
		default:
			log.Error(err, "Reading kernel uevents failed; maps are refreshed by the periodic pass only")
			<-ctx.Done()
			return nil
		}
	}
	return nil
}

func openUeventSocket() (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return -1, err
	}
	// Group 1: the kernel's own uevents (udev's rebroadcasts are group 2).
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: 1}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	// Wake up every second to notice the end of the context.
	tv := syscall.Timeval{Sec: 1}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// IsDeviceMapperUevent reports whether a kernel uevent ("ACTION@DEVPATH\0KEY=VALUE\0...")
// concerns a device-mapper block device: dm-multipath's path events (DM_ACTION=PATH_FAILED,
// PATH_REINSTATED, with DM_TARGET=multipath) and dm devices being added, changed or removed.
func IsDeviceMapperUevent(msg []byte) bool {
	var block, dm bool
	for i, field := range bytes.Split(msg, []byte{0}) {
		switch {
		case i == 0:
			// The header, ACTION@DEVPATH; libudev's own messages start with "libudev".
			at := bytes.IndexByte(field, '@')
			if at < 0 {
				return false
			}
			dm = dm || bytes.HasPrefix(field[bytes.LastIndexByte(field, '/')+1:], []byte("dm-"))
		case bytes.Equal(field, []byte("SUBSYSTEM=block")):
			block = true
		case bytes.HasPrefix(field, []byte("DM_TARGET=multipath")), bytes.HasPrefix(field, []byte("DM_ACTION=")):
			dm = true
		case bytes.HasPrefix(field, []byte("DEVNAME=dm-")):
			dm = true
		}
	}
	return block && dm
}
