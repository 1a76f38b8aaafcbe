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
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

// The journal keeps the marker small: the previous files are byte copies in its backup, and
// the wwids delta a line appended to it. A successful apply leaves neither.
func TestTheJournalKeepsBackupsBesideASmallMarker(t *testing.T) {
	t.Parallel()
	th, before, _ := killedMidApply(t)
	marker := th.read(t, PendingPath)
	if strings.Contains(marker, "content") || len(marker) > 2048 {
		t.Errorf("the marker holds file content (%d bytes): %s", len(marker), marker)
	}
	lines := strings.Split(strings.TrimSuffix(marker, "\n"), "\n")
	var delta wwidsLine
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &delta) != nil || !slices.Equal(delta.WWIDs.Added, []string{wwidB}) {
		t.Errorf("marker lines = %q, want the index and then the wwids delta adding wwidB", lines)
	}
	baseline := ConfDir + "/" + baselineName
	if !strings.Contains(th.read(t, BackupPath), before[baseline]) {
		t.Errorf("the backup does not hold the baseline as it was before the apply")
	}

	if _, err := th.Apply(context.Background(), render(t, wwidA, wwidB)); err != nil {
		t.Fatal(err)
	}
	for path := range th.files(t) {
		if isJournal(path) {
			t.Errorf("%s left after the apply", path)
		}
	}
}

// A backup that is not what the marker recorded (lost, or changed since) restores nothing:
// the recovery fails and the marker stays for the admin.
func TestARecoveryWithABadBackupRestoresNothing(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(path string) error{
		"changed": func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 1
			return os.WriteFile(path, b, 0o600)
		},
		"short":   func(path string) error { return os.Truncate(path, 10) },
		"missing": os.Remove,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			th, _, restarted := killedMidApply(t)
			if err := spoil(th.path(BackupPath)); err != nil {
				t.Fatal(err)
			}
			killed := th.files(t)
			recovered, err := restarted.Recover(context.Background())
			if err == nil || recovered || !strings.Contains(err.Error(), "backup") {
				t.Fatalf("Recover = %v, %v, want an error about the backup", recovered, err)
			}
			if after := th.files(t); !maps.Equal(killed, after) {
				t.Error("a recovery that failed changed files")
			}
		})
	}
}

// A wwids line cut short by a crash (no newline) announces an edit that never began: the
// recovery does not undo it, which would remove entries another writer may have added since.
func TestARecoveryIgnoresAWWIDsLineCutShort(t *testing.T) {
	t.Parallel()
	th := newHost(t, handMadeHost)
	mustApply(t, th, render(t, wwidA))
	before := th.files(t)
	// The journal as a crash while appending the wwids line leaves it, the wwids file unedited;
	// then another writer adds wwidB.
	marker := &pendingMarker{Version: markerVersion, Target: AppliedConfig{Name: "rendered-b", Hash: "b"}}
	for _, path := range transactionPaths {
		if path != WWIDsPath {
			content, ok := before[path]
			marker.Previous = append(marker.Previous, backupFile{Path: path, Exists: ok, Mode: fileMode, Content: []byte(content)})
		}
	}
	if err := th.writeMarker(marker); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(th.path(PendingPath), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, `{"wwids":{"added":[%q]`, wwidB)
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	withB := th.read(t, WWIDsPath) + "/" + wwidB + "/\n"
	if err := os.WriteFile(th.path(WWIDsPath), []byte(withB), 0o644); err != nil {
		t.Fatal(err)
	}
	restarted := &Host{Root: th.Root, Client: &multipathd.SocketClient{Address: th.daemon.Address()}}
	if recovered, err := restarted.Recover(context.Background()); err != nil || !recovered {
		t.Fatalf("Recover = %v, %v", recovered, err)
	}
	if got := th.read(t, WWIDsPath); got != withB {
		t.Errorf("wwids after recovery = %q, want the other writer's entry kept: %q", got, withB)
	}
}

// An agent upgraded while an older one's apply was cut short reads the older marker (version
// 1: the files and the wwids delta inside it, base64-encoded) and rolls it back.
func TestARecoveryReadsTheOlderMarkerFormat(t *testing.T) {
	t.Parallel()
	th, before, restarted := killedMidApply(t)
	// Rewrite the journal as an older agent left it.
	var previous []string
	for _, path := range transactionPaths {
		if path == WWIDsPath {
			continue
		}
		content, ok := before[path]
		if !ok {
			previous = append(previous, fmt.Sprintf(`{"path":%q,"exists":false}`, path))
			continue
		}
		previous = append(previous, fmt.Sprintf(`{"path":%q,"exists":true,"mode":420,"content":%q}`,
			path, base64.StdEncoding.EncodeToString([]byte(content))))
	}
	v1 := fmt.Sprintf(`{"version":1,"target":{"name":"rendered-b","hash":"b"},"previous":[%s],"wwids":{"added":[%q]}}`,
		strings.Join(previous, ","), wwidB)
	if err := os.Remove(th.path(BackupPath)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(th.path(PendingPath), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	if recovered, err := restarted.Recover(context.Background()); err != nil || !recovered {
		t.Fatalf("Recover = %v, %v", recovered, err)
	}
	if after := th.files(t); !maps.Equal(before, after) {
		t.Errorf("files after recovering the older marker differ:\nbefore %v\nafter  %v", before, after)
	}
}
