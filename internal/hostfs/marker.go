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
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// AppliedConfig names the config the host runs, as recorded in AppliedPath.
type AppliedConfig struct {
	// Name is the rendered ConfigMap's name.
	Name string `json:"name"`
	// Hash is the rendered config's full hash.
	Hash string `json:"hash"`
}

// The pending marker's formats. Version 2 (written) keeps the marker small: the previous
// files are copied, byte for byte, one after the other into BackupPath, which the marker's
// first line indexes (offset, size and CRC-32C of each); the wwids delta is a second line
// appended to the marker before the wwids file is edited. Version 1, which older agents wrote
// and this one still reads, held both in one JSON document, the files base64-encoded, and was
// written whole twice per apply: at 10,000 LUNs a quarter of an agent's CPU in a rollout.
const (
	markerVersion   = 2
	markerVersionV1 = 1
)

// pendingMarker is the journal of one apply, in memory: what the apply is moving to, the files
// as they were before it, byte for byte, and what it changed in /etc/multipath/wwids.
type pendingMarker struct {
	Version  int
	Target   AppliedConfig
	Previous []backupFile
	// WWIDs is what the apply changed in /etc/multipath/wwids, recorded under the file's lock
	// before the change; nil until then. Rollback and recovery reverse it in place.
	WWIDs *WWIDsDelta
}

type backupFile struct {
	Path    string      `json:"path"`
	Exists  bool        `json:"exists"`
	Mode    fs.FileMode `json:"mode,omitempty"`
	Content []byte      `json:"content,omitempty"`
}

// markerV1 is the pending marker an older agent wrote. Its Previous may hold
// /etc/multipath/wwids too.
type markerV1 struct {
	Version  int           `json:"version"`
	Target   AppliedConfig `json:"target"`
	Previous []backupFile  `json:"previous"`
	WWIDs    *WWIDsDelta   `json:"wwids,omitempty"`
}

// markerV2 is the first line of PendingPath from version 2 on.
type markerV2 struct {
	Version  int           `json:"version"`
	Target   AppliedConfig `json:"target"`
	Previous []backupRef   `json:"previous"`
}

// backupRef names one previous file: absent, or the Size bytes at Offset in BackupPath, whose
// CRC-32C (Castagnoli) recovery checks before it restores a byte.
type backupRef struct {
	Path   string      `json:"path"`
	Exists bool        `json:"exists"`
	Mode   fs.FileMode `json:"mode,omitempty"`
	Offset int         `json:"offset,omitempty"`
	Size   int         `json:"size,omitempty"`
	CRC32C uint32      `json:"crc32c,omitempty"`
}

// wwidsLine is the marker's second line, from version 2 on.
type wwidsLine struct {
	WWIDs WWIDsDelta `json:"wwids"`
}

// transactionPaths are the files an apply may change, in the order a rollback restores them:
// the records last, so that a rollback cut short leaves them describing the old state longest.
var transactionPaths = []string{
	ConfDir + "/" + overridesName,
	ConfDir + "/" + baselineName,
	WWIDsPath,
	OwnedWWIDsPath,
	AppliedPath,
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (m *pendingMarker) snapshot(path string) (snapshot, bool) {
	i := slices.IndexFunc(m.Previous, func(b backupFile) bool { return b.Path == path })
	if i < 0 {
		return snapshot{}, false
	}
	b := m.Previous[i]
	return snapshot{Exists: b.Exists, Mode: b.Mode, Content: b.Content}, true
}

// writeMarker writes m's previous files to BackupPath and makes them durable, then writes the
// marker that indexes them: a marker on disk always has its backup. Four fsyncs (the backup,
// the marker, their directory after each) whatever the number of files, and one copy of each.
func (h *Host) writeMarker(m *pendingMarker) error {
	disk := markerV2{Version: markerVersion, Target: m.Target, Previous: make([]backupRef, 0, len(m.Previous))}
	var backup [][]byte
	offset := 0
	for _, b := range m.Previous {
		ref := backupRef{Path: b.Path, Exists: b.Exists, Mode: b.Mode}
		if b.Exists {
			ref.Offset, ref.Size, ref.CRC32C = offset, len(b.Content), crc32.Checksum(b.Content, castagnoli)
			backup = append(backup, b.Content)
			offset += len(b.Content)
		}
		disk.Previous = append(disk.Previous, ref)
	}
	if err := writeAtomicParts(h.path(BackupPath), 0o600, backup...); err != nil {
		return err
	}
	line, err := json.Marshal(disk)
	if err != nil {
		return err
	}
	return writeAtomic(h.path(PendingPath), append(line, '\n'), 0o600)
}

// recordWWIDs appends d to m's marker, durably, before the wwids file is changed. A line cut
// short by a crash has no newline and is not read: the edit it announces never began.
func (h *Host) recordWWIDs(m *pendingMarker, d WWIDsDelta) error {
	line, err := json.Marshal(wwidsLine{WWIDs: d})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(h.path(PendingPath), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	m.WWIDs = &d
	return nil
}

// readMarker returns the pending marker with its backups and wwids delta, or nil when there is
// none. Anything that does not check out (a backup missing or not what the marker says, a path
// the agent does not own) is an error: nothing is restored from it.
func (h *Host) readMarker() (*pendingMarker, error) {
	b, err := os.ReadFile(h.path(PendingPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	unreadable := func(err error) error {
		return fmt.Errorf("pending marker %s is unreadable (check the files it guards and remove it): %w", h.path(PendingPath), err)
	}
	first, rest, _ := bytes.Cut(b, []byte{'\n'})
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(first, &v); err != nil {
		return nil, unreadable(err)
	}
	var m *pendingMarker
	switch v.Version {
	case markerVersionV1:
		var old markerV1
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, unreadable(err)
		}
		m = &pendingMarker{Version: old.Version, Target: old.Target, Previous: old.Previous, WWIDs: old.WWIDs}
	case markerVersion:
		var disk markerV2
		if err := json.Unmarshal(first, &disk); err != nil {
			return nil, unreadable(err)
		}
		if m, err = h.loadBackup(&disk); err != nil {
			return nil, unreadable(err)
		}
		if line, _, complete := bytes.Cut(rest, []byte{'\n'}); complete {
			var w wwidsLine
			if err := json.Unmarshal(line, &w); err != nil {
				return nil, unreadable(fmt.Errorf("its wwids line: %w", err))
			}
			m.WWIDs = &w.WWIDs
		}
	default:
		return nil, fmt.Errorf("pending marker %s has version %d, this agent reads %d and %d", h.path(PendingPath), v.Version, markerVersionV1, markerVersion)
	}
	for _, b := range m.Previous {
		if !slices.Contains(transactionPaths, b.Path) || filepath.Clean(b.Path) != b.Path || m.Version >= 2 && b.Path == WWIDsPath {
			return nil, fmt.Errorf("pending marker %s names %q, which the agent does not own", h.path(PendingPath), b.Path)
		}
	}
	return m, nil
}

// loadBackup reads a version 2 marker's files from BackupPath, each checked against the marker.
func (h *Host) loadBackup(disk *markerV2) (*pendingMarker, error) {
	backup, err := os.ReadFile(h.path(BackupPath))
	if err != nil {
		return nil, fmt.Errorf("its backup: %w", err)
	}
	m := &pendingMarker{Version: disk.Version, Target: disk.Target}
	for _, ref := range disk.Previous {
		b := backupFile{Path: ref.Path, Exists: ref.Exists, Mode: ref.Mode}
		if ref.Exists {
			end := ref.Offset + ref.Size
			if ref.Offset < 0 || ref.Size < 0 || end > len(backup) || crc32.Checksum(backup[ref.Offset:end], castagnoli) != ref.CRC32C {
				return nil, fmt.Errorf("the backup of %s is not in %s as the marker recorded it (%d bytes at %d, CRC-32C %08x)",
					hostPath(ref.Path), h.path(BackupPath), ref.Size, ref.Offset, ref.CRC32C)
			}
			b.Content = backup[ref.Offset:end:end]
		}
		m.Previous = append(m.Previous, b)
	}
	return m, nil
}

// removeMarker ends the journal: the marker first, durably (from then on nothing is rolled
// back), then its backup, which no marker names any more (should it stay, the next apply
// replaces it before writing a marker).
func (h *Host) removeMarker() error {
	if err := removeDurably(h.path(PendingPath)); err != nil {
		return err
	}
	_ = os.Remove(h.path(BackupPath))
	return nil
}
