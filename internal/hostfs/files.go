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

package hostfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// Paths under Host.Root.
const (
	// EtcMultipathDir is multipath-tools' directory.
	EtcMultipathDir = "etc/multipath"
	// ConfDir holds the drop-ins multipathd reads after /etc/multipath.conf.
	ConfDir = "etc/multipath/conf.d"
	// WWIDsPath is multipath-tools' wwids file, shared with it.
	WWIDsPath = "etc/multipath/wwids"
	// StateDir holds the agent's own records.
	StateDir = "etc/multipath/kube-multipath"
	// OwnedWWIDsPath lists the WWIDs the agent added to WWIDsPath, one per line.
	OwnedWWIDsPath = StateDir + "/owned-wwids"
	// AppliedPath records the config applied last ({"name","hash"}).
	AppliedPath = StateDir + "/applied"
	// PendingPath exists only while an apply is under way (or was interrupted): the marker
	// of the apply's journal.
	PendingPath = StateDir + "/pending"
	// BackupPath holds, while PendingPath names it, the files the apply may change as they
	// were before it.
	BackupPath = StateDir + "/pending-backup"
	// LockPath is flocked by the apply, so that two agents never apply at once.
	LockPath = StateDir + "/lock"
)

const (
	dirMode  fs.FileMode = 0o755
	fileMode fs.FileMode = 0o644
)

// snapshot is one file as it was (or will be): its bytes and mode, or absent.
type snapshot struct {
	Exists  bool
	Mode    fs.FileMode
	Content []byte
}

// fileSum is a file's content in short: absent, or its size and CRC-32C.
type fileSum struct {
	exists bool
	size   int
	crc    uint32
}

func sumOf(s snapshot) fileSum {
	if !s.Exists {
		return fileSum{}
	}
	return fileSum{exists: true, size: len(s.Content), crc: crc32.Checksum(s.Content, castagnoli)}
}

func (s snapshot) equal(o snapshot) bool {
	if s.Exists != o.Exists {
		return false
	}
	return !s.Exists || bytes.Equal(s.Content, o.Content)
}

// readSnapshot reads path, or returns an absent snapshot when there is none. A directory or
// other non-regular file where a file belongs is an error: nothing would replace it safely.
func readSnapshot(path string) (snapshot, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return snapshot{}, nil
	}
	if err != nil {
		return snapshot{}, err
	}
	if !fi.Mode().IsRegular() {
		return snapshot{}, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{Exists: true, Mode: fi.Mode().Perm(), Content: b}, nil
}

// newPending creates the temp file that writeAtomic renames over path: in path's directory,
// named by renameio ".<base><digits>" (never "*.conf"), chmod'ed before any byte is written.
func newPending(path string, mode fs.FileMode) (*renameio.PendingFile, error) {
	t, err := renameio.TempFile(filepath.Dir(path), path)
	if err != nil {
		return nil, err
	}
	if err := t.Chmod(mode); err != nil {
		_ = t.Cleanup()
		return nil, err
	}
	return t, nil
}

// writeAtomic replaces path with data: temp file, chmod, write, fsync, rename, fsync of the
// directory (renameio does not sync the directory, so the rename itself could be lost).
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	return writeAtomicParts(path, mode, data)
}

// writeAtomicParts is writeAtomic of the parts one after the other, without joining them.
func writeAtomicParts(path string, mode fs.FileMode, parts ...[]byte) error {
	t, err := newPending(path, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() { _ = t.Cleanup() }()
	w := bufio.NewWriter(t)
	for _, data := range parts {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// removeDurably removes path (absent is fine) and fsyncs its directory.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

// restore makes path hold s: written when s exists and the disk differs, removed when s is
// absent. It reports whether it touched the disk.
func restore(path string, s snapshot) (bool, error) {
	cur, err := readSnapshot(path)
	if err != nil {
		return false, err
	}
	if cur.equal(s) && (!s.Exists || cur.Mode == s.Mode) {
		return false, nil
	}
	if !s.Exists {
		return true, removeDurably(path)
	}
	return true, writeAtomic(path, s.Content, s.Mode)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// ensureDir creates dir (and its parents) when missing, and syncs the parent of each new one.
func ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := ensureDir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}
