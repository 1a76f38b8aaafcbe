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
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReconcileWWIDs(t *testing.T) {
	t.Parallel()
	const handMade = "# added by the storage team\n/" + bootWWID + "/\n"
	tests := map[string]struct {
		current        *string
		owned, desired []string
		wantContent    *string
		wantOwned      []string
		added, removed []string
	}{
		"a missing file is created with multipath-tools' header": {
			desired:     []string{wwidA},
			wantContent: ptr(WWIDsHeader + "/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
			added:       []string{wwidA},
		},
		"a missing file stays missing when nothing is desired": {},
		"an empty file gets the header": {
			current:     ptr(""),
			desired:     []string{wwidA},
			wantContent: ptr(WWIDsHeader + "/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
			added:       []string{wwidA},
		},
		"a WWID already present is never recorded as owned": {
			current:     ptr(handMade),
			desired:     []string{bootWWID, wwidA},
			wantContent: ptr(handMade + "/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
			added:       []string{wwidA},
		},
		"a foreign WWID no longer desired stays": {
			current:     ptr(handMade + "/" + wwidA + "/\n"),
			owned:       []string{wwidA},
			desired:     nil,
			wantContent: ptr(handMade),
			removed:     []string{wwidA},
		},
		"only owned WWIDs are removed, every line of them": {
			current:     ptr("/" + wwidA + "/\n" + handMade + "/" + wwidA + "/\n/" + wwidB + "/\n"),
			owned:       []string{wwidA, wwidB},
			desired:     []string{wwidB},
			wantContent: ptr(handMade + "/" + wwidB + "/\n"),
			wantOwned:   []string{wwidB},
			removed:     []string{wwidA},
		},
		"an owned WWID removed by hand is added back and stays owned": {
			current:     ptr(WWIDsHeader),
			owned:       []string{wwidA},
			desired:     []string{wwidA},
			wantContent: ptr(WWIDsHeader + "/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
			added:       []string{wwidA},
		},
		"an owned WWID gone from the file and from the config is forgotten": {
			current:     ptr(WWIDsHeader),
			owned:       []string{wwidA},
			wantContent: ptr(WWIDsHeader),
		},
		"a last line without newline gets one before an append": {
			current:     ptr("/" + bootWWID + "/"),
			desired:     []string{wwidA},
			wantContent: ptr("/" + bootWWID + "/\n/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
			added:       []string{wwidA},
		},
		"lines that are not entries are kept as they are": {
			current:     ptr("garbage line\n\n/unterminated\n/" + bootWWID + "/ trailing words\n"),
			desired:     []string{bootWWID},
			wantContent: ptr("garbage line\n\n/unterminated\n/" + bootWWID + "/ trailing words\n"),
		},
		"nothing changes when every desired WWID is there": {
			current:     ptr(WWIDsHeader + "/" + wwidA + "/\n"),
			owned:       []string{wwidA},
			desired:     []string{wwidA},
			wantContent: ptr(WWIDsHeader + "/" + wwidA + "/\n"),
			wantOwned:   []string{wwidA},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var cur []byte
			if tc.current != nil {
				cur = []byte(*tc.current)
			}
			p, err := ReconcileWWIDs(cur, tc.owned, tc.desired)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantContent == nil && p.Content != nil:
				t.Errorf("content = %q, want no file", p.Content)
			case tc.wantContent != nil && string(p.Content) != *tc.wantContent:
				t.Errorf("content:\n%s\nwant:\n%s", p.Content, *tc.wantContent)
			}
			wantChanged := (tc.current == nil) != (tc.wantContent == nil) || (tc.current != nil && tc.wantContent != nil && *tc.current != *tc.wantContent)
			if p.Changed != wantChanged {
				t.Errorf("changed = %v, want %v", p.Changed, wantChanged)
			}
			if !slices.Equal(p.Owned, nonNil(tc.wantOwned)) {
				t.Errorf("owned = %v, want %v", p.Owned, tc.wantOwned)
			}
			if !slices.Equal(p.Added, tc.added) || !slices.Equal(p.Removed, nonNil(tc.removed)) {
				t.Errorf("added %v removed %v, want %v %v", p.Added, p.Removed, tc.added, tc.removed)
			}
			if got := ParseWWIDs(p.Content); !containsAll(got, tc.desired) {
				t.Errorf("file lists %v, missing some of %v", got, tc.desired)
			}
		})
	}
}

func TestReconcileWWIDsRefusesWhatCouldBreakTheFile(t *testing.T) {
	t.Parallel()
	for _, w := range []string{"", "a/b", "a b", "a\nb", strings.Repeat("a", 129)} {
		if _, err := ReconcileWWIDs(nil, nil, []string{w}); err == nil {
			t.Errorf("WWID %q accepted", w)
		}
	}
}

func TestOwnershipRecordRoundTripsAndRefusesCorruption(t *testing.T) {
	t.Parallel()
	owned := []string{wwidA, wwidB}
	got, err := parseOwned(formatOwned(owned))
	if err != nil || !slices.Equal(got, owned) {
		t.Fatalf("parseOwned(formatOwned(%v)) = %v, %v", owned, got, err)
	}
	if _, err := parseOwned([]byte("/" + wwidA + "/\n")); err == nil {
		t.Error("a corrupt record was accepted: its entries could be removed")
	}
}

// multipathd reads conf.d entries ending in ".conf": the temp file of an atomic write must
// never be one of them, or a half-written drop-in could be read.
func TestTempFileOfAnAtomicWriteIsNeverADropIn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range dropIns {
		pf, err := newPending(filepath.Join(dir, name), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Base(pf.Name())
		if filepath.Dir(pf.Name()) != dir {
			t.Errorf("temp file %s is not in the destination directory %s", pf.Name(), dir)
		}
		if strings.HasSuffix(tmp, ".conf") {
			t.Errorf("temp file %q ends in .conf", tmp)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "*.conf")); len(m) > 0 {
			t.Errorf("*.conf matches %v while the write is pending", m)
		}
		if fi, err := pf.Stat(); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("temp file mode = %v (%v), want 0644 before any byte is written", fi.Mode(), err)
		}
		_ = pf.Cleanup()
	}
	if err := writeAtomic(filepath.Join(dir, baselineName), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != baselineName {
		t.Errorf("directory holds %v after the write, want only %s", entries, baselineName)
	}
}

func ptr(s string) *string { return &s }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// The new ownership record is every owned WWID still desired and listed, plus the additions,
// sorted and unique, however the old record was ordered (a hand-edited or older record may be
// unsorted or hold duplicates): checked against that definition on random files and records.
func TestReconcileWWIDsOwnedIsSortedAndComplete(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]string, 40)
	for i := range pool {
		pool[i] = fmt.Sprintf("3600a098038303053453f4630457%05d", rng.IntN(100000))
	}
	pick := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = pool[rng.IntN(len(pool))]
		}
		return out
	}
	for round := range 500 {
		var file strings.Builder
		for _, w := range pick(rng.IntN(20)) {
			file.WriteString("/" + w + "/\n")
		}
		current := []byte(file.String())
		owned, desired := pick(rng.IntN(20)), pick(rng.IntN(20))
		if round%2 == 0 {
			slices.Sort(owned)
			owned = slices.Compact(owned)
		}
		p, err := ReconcileWWIDs(current, owned, desired)
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, w := range ParseWWIDs(p.Content) {
			listed[w] = true
		}
		want := slices.Clone(p.Added)
		for _, w := range owned {
			if slices.Contains(desired, w) && listed[w] {
				want = append(want, w)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(p.Owned, want) {
			t.Fatalf("round %d: owned %q, desired %q, file %q:\nOwned = %q\nwant    %q", round, owned, desired, current, p.Owned, want)
		}
	}
}
