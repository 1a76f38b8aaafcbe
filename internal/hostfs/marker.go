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
	"encoding/json"
	"errors"
	"fmt"
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

// markerVersion is the pending marker's format.
const markerVersion = 1

// pendingMarker is the content of PendingPath: what the interrupted apply was moving to, and
// the files as they were before it, byte for byte.
type pendingMarker struct {
	Version int           `json:"version"`
	Target  AppliedConfig `json:"target"`
	// Previous holds every file the apply may change, keyed by path under the root, except
	// /etc/multipath/wwids (an older agent's marker may hold it too).
	Previous []backupFile `json:"previous"`
	// WWIDs is what the apply changed in /etc/multipath/wwids, recorded under the file's lock
	// before the change; nil until then. Rollback and recovery reverse it in place.
	WWIDs *WWIDsDelta `json:"wwids,omitempty"`
}

type backupFile struct {
	Path    string      `json:"path"`
	Exists  bool        `json:"exists"`
	Mode    fs.FileMode `json:"mode,omitempty"`
	Content []byte      `json:"content,omitempty"`
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

func (m *pendingMarker) snapshot(path string) (snapshot, bool) {
	i := slices.IndexFunc(m.Previous, func(b backupFile) bool { return b.Path == path })
	if i < 0 {
		return snapshot{}, false
	}
	b := m.Previous[i]
	return snapshot{Exists: b.Exists, Mode: b.Mode, Content: b.Content}, true
}

func (h *Host) writeMarker(m *pendingMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeAtomic(h.path(PendingPath), b, 0o600)
}

// readMarker returns the pending marker, or nil when there is none.
func (h *Host) readMarker() (*pendingMarker, error) {
	b, err := os.ReadFile(h.path(PendingPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := &pendingMarker{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("pending marker %s is unreadable (check the files it guards and remove it): %w", h.path(PendingPath), err)
	}
	if m.Version != markerVersion {
		return nil, fmt.Errorf("pending marker %s has version %d, this agent reads %d", h.path(PendingPath), m.Version, markerVersion)
	}
	for _, b := range m.Previous {
		if !slices.Contains(transactionPaths, b.Path) || filepath.Clean(b.Path) != b.Path {
			return nil, fmt.Errorf("pending marker %s names %q, which the agent does not own", h.path(PendingPath), b.Path)
		}
	}
	return m, nil
}

func (h *Host) removeMarker() error { return removeDurably(h.path(PendingPath)) }
