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

// Package mountns runs a multipath-tools command against a stand-in /etc/multipath without
// changing the machine: in a private mount namespace, a given directory is bind-mounted over
// <root>/etc/multipath, a private tmpfs covers <root>/run, the root's /etc/multipath.conf can be
// hidden, and the command runs chrooted into the root.
//
// The mount point need not exist. Debian's multipath-tools does not create /etc/multipath (the
// first `multipath -a` does), so on a fresh node, or a fresh CI machine, a bind mount over it
// fails with "mount point does not exist". Creating it would write to the host before anything
// was validated; instead, when it is missing, /etc is seen through an overlay whose writable
// layer is a tmpfs private to the namespace, and the directory is made there. The host's /etc
// is never written.
//
// The agent validates every candidate config this way (hostfs.ParserValidator), and the tests
// run the real parser (multipathconf/mptest) and the real daemon (testing/realdaemon) the same
// way: one implementation of the namespace, so a test cannot pass on a layout the agent would
// fail on.
//
// It needs CAP_SYS_ADMIN (and CAP_SYS_CHROOT when Root is not /).
package mountns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// View is what the command sees.
type View struct {
	// Root is the file system the command runs in (chrooted there unless it is "/"): the
	// host's root, or "/" for this machine's.
	Root string
	// EtcMultipath is the directory seen as <Root>/etc/multipath.
	EtcMultipath string
	// HideMultipathConf makes <Root>/etc/multipath.conf read as empty, so that only
	// EtcMultipath's conf.d counts (the test harnesses). The agent keeps it: the host's file
	// takes part in what multipathd will read.
	HideMultipathConf bool
	// PrivateNetwork also gives the command a network namespace of its own, where
	// multipathd's abstract socket stays private.
	PrivateNetwork bool
}

// ErrUnsupported wraps every failure to set the namespace up, as opposed to the command's own
// failure.
var ErrUnsupported = errors.New("cannot set up a private mount namespace")

// Process is a command started in a View.
type Process struct {
	// Cmd is the started command.
	Cmd *exec.Cmd
	// Done receives cmd.Wait's result once, when the command has exited and what Start made
	// outside the namespace is removed.
	Done <-chan error
}

// Run runs cmd in the view and waits for it.
func (v View) Run(cmd *exec.Cmd) error {
	p, err := v.Start(cmd)
	if err != nil {
		return err
	}
	return <-p.Done
}

// Start starts cmd in the view. The namespace is made on an OS thread locked for the command's
// whole life and then thrown away, so no other goroutine ever runs in it, and cmd's
// SysProcAttr.Pdeathsig (set to SIGKILL when unset) fires only when this process ends. cmd's
// SysProcAttr.Chroot is set to Root unless Root is "/".
func (v View) Start(cmd *exec.Cmd) (*Process, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	// The overlay's writable layer and the empty multipath.conf live on a tmpfs mounted, inside
	// the namespace only, on this empty directory; the host sees an empty folder, removed after.
	scratch, err := os.MkdirTemp("", "kube-multipath-mountns-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if root := filepath.Clean(v.Root); root != "/" {
		cmd.SysProcAttr.Chroot = root
	}

	started, waited := make(chan error, 1), make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the runtime ends the thread. That alone
		// does not end the namespace: if the goroutine runs on the process's main thread, the
		// runtime cannot end that thread and parks it for good, and the namespace would live
		// on with it, holding a copy of every mount the host had when it was made (a
		// filesystem the host then unmounts stays mounted, its device open, in here). So the
		// thread goes back to the namespaces it came from as soon as the child holds the new
		// ones.
		runtime.LockOSThread()
		back, err := v.saveNamespaces()
		if err != nil {
			started <- err
			return
		}
		defer func() { _ = back() }() // for the early returns; a no-op once the call below ran
		if err := v.enter(scratch); err != nil {
			started <- err
			return
		}
		err = cmd.Start()
		if rerr := back(); rerr != nil && err == nil {
			err = rerr
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		_ = os.RemoveAll(scratch)
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := <-waited
		_ = os.Remove(scratch) // empty on the host: the tmpfs was only ever in the namespace
		done <- err
	}()
	return &Process{Cmd: cmd, Done: done}, nil
}

// saveNamespaces opens the calling thread's mount (and network) namespaces and returns the
// function that puts the thread back into them and closes them; it runs at most once.
func (v View) saveNamespaces() (func() error, error) {
	kinds := []struct {
		file string
		flag int
	}{{"mnt", unix.CLONE_NEWNS}}
	if v.PrivateNetwork {
		kinds = append(kinds, struct {
			file string
			flag int
		}{"net", unix.CLONE_NEWNET})
	}
	fds := make([]int, 0, len(kinds))
	closeAll := func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}
	for _, k := range kinds {
		fd, err := unix.Open("/proc/thread-self/ns/"+k.file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%w: saving the %s namespace: %v", ErrUnsupported, k.file, err)
		}
		fds = append(fds, fd)
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		defer closeAll()
		var errs []error
		for i, k := range kinds {
			if err := unix.Setns(fds[i], k.flag); err != nil {
				errs = append(errs, fmt.Errorf("returning to the %s namespace: %w", k.file, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// check refuses paths the overlay's option string could not carry, and a missing stand-in.
func (v View) check() error {
	if !filepath.IsAbs(v.Root) {
		return fmt.Errorf("%w: root %q is not an absolute path", ErrUnsupported, v.Root)
	}
	if strings.ContainsAny(v.Root, ",:\\\n") {
		return fmt.Errorf("%w: root %q contains a character a mount option cannot carry (, : \\)", ErrUnsupported, v.Root)
	}
	if fi, err := os.Stat(v.EtcMultipath); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: the stand-in for /etc/multipath %q is not a directory", ErrUnsupported, v.EtcMultipath)
	}
	return nil
}

// enter must run on a locked OS thread that is thrown away afterwards.
func (v View) enter(scratch string) error {
	flags := syscall.CLONE_NEWNS
	if v.PrivateNetwork {
		flags |= syscall.CLONE_NEWNET
	}
	if err := syscall.Unshare(flags); err != nil {
		return fmt.Errorf("%w: unshare (needs CAP_SYS_ADMIN): %v", ErrUnsupported, err)
	}
	steps := []struct {
		what string
		do   func() error
	}{
		// Nothing mounted here may reach the host's mount namespace.
		{"making mounts private", func() error { return syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "") }},
		{"mounting the scratch tmpfs", func() error {
			return syscall.Mount("tmpfs", scratch, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m,mode=0700")
		}},
		{"mounting a private /run", func() error { return v.privateRun() }},
		{"making /etc/multipath", func() error { return v.ensureEtcMultipath(scratch) }},
		{"bind-mounting the stand-in over /etc/multipath", func() error {
			return syscall.Mount(v.EtcMultipath, filepath.Join(v.Root, "etc", "multipath"), "", syscall.MS_BIND, "")
		}},
		{"hiding /etc/multipath.conf", func() error { return v.hideMultipathConf(scratch) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnsupported, s.what, err)
		}
	}
	return nil
}

// privateRun covers <Root>/run with a tmpfs: multipath and multipathd keep their pid file and
// state there, and must not see or touch the host's.
func (v View) privateRun() error {
	run := filepath.Join(v.Root, "run")
	if !isDir(run) {
		return nil
	}
	return syscall.Mount("tmpfs", run, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m,mode=0755")
}

// ensureEtcMultipath makes <Root>/etc/multipath exist as a mount point, through an overlay of
// <Root>/etc when the host has none.
func (v View) ensureEtcMultipath(scratch string) error {
	etc := filepath.Join(v.Root, "etc")
	target := filepath.Join(etc, "multipath")
	if isDir(target) {
		return nil
	}
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("%s exists and is not a directory", target)
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", etc, upper, work)
	if err := syscall.Mount("overlay", etc, "overlay", 0, opts); err != nil {
		return fmt.Errorf("%s does not exist, and an overlay of %s to make it failed: %v", target, etc, err)
	}
	return os.Mkdir(target, 0o755)
}

// hideMultipathConf bind-mounts an empty file over <Root>/etc/multipath.conf when there is one
// (a missing file reads as empty already).
func (v View) hideMultipathConf(scratch string) error {
	if !v.HideMultipathConf {
		return nil
	}
	conf := filepath.Join(v.Root, "etc", "multipath.conf")
	if _, err := os.Stat(conf); err != nil {
		return nil
	}
	empty := filepath.Join(scratch, "empty.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return err
	}
	return syscall.Mount(empty, conf, "", syscall.MS_BIND, "")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
