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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// editWWIDs edits /etc/multipath/wwids in place the way libmultipath does (wwids.c): it opens
// the file (creating it with mode when absent, as open_file does), takes the fcntl write lock
// on the whole file that lock_file takes, reads it, and writes what edit returns through the
// same descriptor: an append at the end when the new content only adds lines (write_out_wwid),
// else the new content from offset 0 and a truncate to its length (replace_wwids truncates and
// rewrites too). The file is never replaced by another inode, so a multipath-tools writer
// waiting on the lock writes to the file everyone reads, and sees the agent's edit. edit gets
// the content under the lock (nil when the file did not exist) and returns the new content, or
// nil to leave the file as it is.
func (h *Host) editWWIDs(ctx context.Context, mode fs.FileMode, edit func(current []byte) ([]byte, error)) error {
	path := h.path(WWIDsPath)
	existed := true
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		existed = false
	}
	if mode == 0 {
		mode = fileMode
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, mode.Perm())
	if err != nil {
		return err
	}
	// Closing any descriptor of the file drops an fcntl lock: the file is used through f only.
	defer f.Close()
	if err := fcntlLock(ctx, f); err != nil {
		return fmt.Errorf("locking %s: %w", hostPath(WWIDsPath), err)
	}
	cur, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	var in []byte
	if existed || len(cur) > 0 {
		in = cur
		if in == nil {
			in = []byte{}
		}
	}
	want, err := edit(in)
	// A file created only to be locked stays, empty, even when nothing is written: removing it
	// would orphan a writer that opened it meanwhile and waits for the lock; multipath-tools
	// reads an empty wwids file as one without entries.
	if err != nil || want == nil || bytes.Equal(want, cur) && existed {
		return err
	}
	if bytes.HasPrefix(want, cur) {
		if _, err := f.WriteAt(want[len(cur):], int64(len(cur))); err != nil {
			return err
		}
	} else {
		if _, err := f.WriteAt(want, 0); err != nil {
			return err
		}
		if err := f.Truncate(int64(len(want))); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if !existed {
		return syncDir(h.path(EtcMultipathDir))
	}
	return nil
}

// WWIDsDelta is what an apply changed in /etc/multipath/wwids: the entries it appended and
// the owned entries it removed. Undoing it, under the lock, removes the first and appends the
// second again, and leaves every other line as it finds it, entries others added meanwhile
// included.
type WWIDsDelta struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// undoWWIDs reverses d in place under the lock.
func (h *Host) undoWWIDs(ctx context.Context, d WWIDsDelta) error {
	if len(d.Added) == 0 && len(d.Removed) == 0 {
		return nil
	}
	return h.editWWIDs(ctx, 0, func(cur []byte) ([]byte, error) {
		if cur == nil {
			cur = []byte{}
		}
		// Reconcile with "owned" = what we added and "desired" = what we removed: it drops
		// every line of the added WWIDs and appends the removed ones that are missing.
		p, err := ReconcileWWIDs(cur, d.Added, d.Removed)
		if err != nil {
			return nil, err
		}
		return p.Content, nil
	})
}

// wwidsPlanned is the plan's reconciliation of the wwids file, and the content (nil: no file)
// it was made from.
type wwidsPlanned struct {
	from []byte
	plan WWIDsPlan
}

// reconcileWWIDsFile lists desired in /etc/multipath/wwids, in place under the lock: it
// reconciles the file as it is under the lock (not the plan's read of it, which another writer
// may have extended since; when it has not, the plan's reconciliation is the same and is
// used), records the delta in the pending marker while it still holds the lock, then writes.
// It returns what it did.
func (h *Host) reconcileWWIDsFile(ctx context.Context, m *pendingMarker, owned, desired []string, mode fs.FileMode, planned wwidsPlanned) (WWIDsPlan, error) {
	var done WWIDsPlan
	err := h.editWWIDs(ctx, mode, func(cur []byte) ([]byte, error) {
		wp, err := planned.plan, error(nil)
		if (cur == nil) != (planned.from == nil) || !bytes.Equal(cur, planned.from) {
			wp, err = ReconcileWWIDs(cur, owned, desired)
		}
		if err != nil || !wp.Changed {
			done = wp
			return nil, err
		}
		if err := h.recordWWIDs(m, WWIDsDelta{Added: wp.Added, Removed: wp.Removed}); err != nil {
			return nil, fmt.Errorf("recording the %s edit in the pending marker: %w", hostPath(WWIDsPath), err)
		}
		done = wp
		return wp.Content, nil
	})
	return done, err
}
