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

package multipathconf

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// updateGolden rewrites testdata/*.golden instead of comparing: UPDATE_GOLDEN=true go test.
var updateGolden = os.Getenv("UPDATE_GOLDEN") == "true"

// allDefaults sets every spec.defaults knob to a valid, non-default value.
func allDefaults(d *mpv1alpha1.MultipathDefaults) {
	allLUNKnobs(&d.LUNKnobs)
	d.PollingInterval, d.MaxPollingInterval, d.PathChecker, d.CheckerTimeout = i32(10), i32(40), "directio", i32(30)
	d.FastIOFailTmo, d.DevLossTmo, d.QueueWithoutDaemon = intOrStr("off"), intOrStr("infinity"), boolPtr(false)
	d.DetectPrio, d.DetectChecker, d.Verbosity, d.LogCheckerErr = boolPtr(false), boolPtr(true), i32(3), "once"
	d.UxsockTimeout, d.RetriggerTries, d.RetriggerDelay, d.MissingUevWaitTimeout = i32(8000), i32(5), i32(20), i32(60)
	d.StrictTiming, d.MarginalPathgroups, d.RecheckWWID = boolPtr(true), boolPtr(true), boolPtr(true)
	d.RemoveRetries, d.AllTgPt = i32(3), boolPtr(true)
}

// allLUNKnobs sets every per-LUN knob to a valid value.
func allLUNKnobs(k *mpv1alpha1.LUNKnobs) {
	k.PathGroupingPolicy, k.PathSelector, k.Prio = mpv1alpha1.PathGroupingGroupByPrio, mpv1alpha1.PathSelectorServiceTime, "alua"
	k.PrioArgs, k.Failback, k.NoPathRetry = "exclusive_pref_bit", intOrStr("immediate"), intOrInt(12)
	k.RRWeight, k.RRMinIORq, k.FlushOnLastDel = "priorities", i32(1), boolPtr(true)
	k.ReservationKey, k.DeferredRemove, k.SkipKpartx, k.MaxSectorsKB = "0x123abc:aptpl", boolPtr(true), boolPtr(false), i32(512)
	k.GhostDelay, k.DelayWatchChecks, k.DelayWaitChecks = intOrInt(30), intOrInt(10), intOrStr("no")
	k.SANPathErrThreshold, k.SANPathErrForgetRate, k.SANPathErrRecoveryTime = intOrInt(5), intOrInt(100), intOrStr("no")
	k.MarginalPathErrSampleTime, k.MarginalPathErrRateThreshold = intOrInt(120), intOrInt(10)
	k.MarginalPathErrRecheckGapTime, k.MarginalPathDoubleFailedTime = intOrInt(300), intOrStr("no")
}

func TestRenderGolden(t *testing.T) {
	tests := map[string]struct {
		golden string
		config *mpv1alpha1.MultipathConfig
		luns   []mpv1alpha1.MultipathWWID
	}{
		"LUNs with aliases and knobs are sorted by WWID": {
			golden: "luns.golden",
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.NoPathRetry = intOrStr("queue") })),
			luns: []mpv1alpha1.MultipathWWID{
				lun("logs", "3600a098038303053453f463045727a4e", withAlias("pg-logs"),
					withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.NoPathRetry = intOrInt(30) })),
				lun("boot", "36001405abcdef0123456789abcdef012"),
				lun("data", "3600a098038303053453f463045727a4d", withAlias("pg-data"),
					withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) {
						k.PathGroupingPolicy, k.Prio, k.PrioArgs = mpv1alpha1.PathGroupingGroupByPrio, "alua", "exclusive_pref_bit"
					})),
			},
		},
		"every knob, in table order": {
			golden: "all-knobs.golden",
			config: clusterConfig(withDefaults(allDefaults)),
			luns:   []mpv1alpha1.MultipathWWID{lun("all", "3600a0980383030534d", withAlias("all-knobs"), withLUNKnobs(allLUNKnobs))},
		},
		"typed defaults alone render the baseline without multipaths": {
			golden: "defaults-only.golden",
			config: clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.Verbosity, d.PathChecker = i32(3), "tur" })),
		},
		"overrides alone render verbatim, with the baseline keeping its invariants": {
			golden: "overrides-only.golden",
			config: clusterConfig(withOverrides(realisticOverrides)),
		},
		"values that need quoting": {
			golden: "quoting.golden",
			luns: []mpv1alpha1.MultipathWWID{lun("q", "3600q", withAlias("{data}é"),
				withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = `x" } multipath { wwid "evil #1 !2` }))},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := Render(tc.config, tc.luns)
			if err != nil {
				t.Fatal(err)
			}
			got := describeRendered(r)
			path := filepath.Join("testdata", tc.golden)
			if updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with UPDATE_GOLDEN=true to create it)", err)
			}
			if got != string(want) {
				t.Errorf("rendered config differs from %s (UPDATE_GOLDEN=true rewrites it):\n%s", path, got)
			}
		})
	}
}

// TestRenderNamesEveryMap: each LUN's map name is its alias, or its WWID without one, in
// Rendered.Names and in the baseline, and it survives the ConfigMap round trip (plain and
// compressed payloads).
func TestRenderNamesEveryMap(t *testing.T) {
	luns := []mpv1alpha1.MultipathWWID{lun("a", "3600a"), lun("b", "3600b.c", withAlias("{data}é"))}
	for i := range 3000 { // enough to be packed compressed
		luns = append(luns, lun("n"+strconv.Itoa(i), "3600f"+strconv.Itoa(i), withAlias("vol-"+strconv.Itoa(i))))
	}
	for _, n := range []int{2, len(luns)} {
		r, err := Render(nil, luns[:n])
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Names["3600a"]; got != "3600a" {
			t.Errorf("%d LUNs: name of 3600a = %q, want the WWID", n, got)
		}
		if got := r.Names["3600b.c"]; got != "{data}é" {
			t.Errorf("%d LUNs: name of 3600b.c = %q, want its alias", n, got)
		}
		if len(r.Names) != n {
			t.Errorf("%d LUNs: %d names", n, len(r.Names))
		}
		data, binaryData, err := Pack(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unpack(data, binaryData, r.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Names, r.Names) {
			t.Errorf("%d LUNs (compressed: %v): names did not survive the round trip", n, binaryData != nil)
		}
	}
}

// describeRendered is the golden form of a rendered config: its summary, then each file.
func describeRendered(r *Rendered) string {
	var b strings.Builder
	b.WriteString("# hash " + r.Hash + "\n# configmap " + r.ConfigMapName() + "\n# luns " + strconv.Itoa(r.LUNs) +
		", bytes " + strconv.Itoa(r.Bytes) + ", empty " + strconv.FormatBool(r.Empty) + "\n")
	for _, f := range r.Files {
		b.WriteString("#### " + f.Name + "\n" + f.Content)
	}
	return b.String()
}

func TestRender(t *testing.T) {
	emptyHash := sha256.Sum256(nil)
	tests := map[string]struct {
		config    *mpv1alpha1.MultipathConfig
		luns      []mpv1alpha1.MultipathWWID
		files     []string
		wwids     []string
		empty     bool
		hash      string
		wantError string
	}{
		"no config and no LUNs: nothing to manage": {
			empty: true, hash: hex.EncodeToString(emptyHash[:]),
		},
		"an empty config and no LUNs: nothing to manage": {
			config: clusterConfig(), empty: true, hash: hex.EncodeToString(emptyHash[:]),
		},
		"LUNs without a config: baseline and allow-list": {
			luns:  []mpv1alpha1.MultipathWWID{lun("b", "3600b"), lun("a", "3600a")},
			files: []string{BaselineFileName, WWIDsFileName}, wwids: []string{"3600a", "3600b"},
		},
		"overrides only: all three files, an empty allow-list": {
			config: clusterConfig(withOverrides("overrides {\n\tno_path_retry fail\n}\n")),
			files:  []string{OverridesFileName, BaselineFileName, WWIDsFileName}, wwids: []string{},
		},
		"an invalid LUN is refused with its object and path": {
			luns:      []mpv1alpha1.MultipathWWID{lun("bad", "3600a", withAlias("mpathq"))},
			wantError: `cannot render: MultipathWWID "bad".spec.alias: Invalid value: "mpathq": ` + msgAliasMpath,
		},
		"invalid defaults are refused": {
			config:    clusterConfig(withDefaults(func(d *mpv1alpha1.MultipathDefaults) { d.Verbosity = i32(6) })),
			wantError: "cannot render: MultipathConfig spec.defaults.verbosity: Invalid value: 6: verbosity must be a number from 0 to 4",
		},
		"overrides that blacklist an allow-listed WWID are refused": {
			config:    clusterConfig(withOverrides("blacklist {\n\twwid \"^3600a\"\n}\n")),
			luns:      []mpv1alpha1.MultipathWWID{lun("a", "3600a")},
			wantError: `cannot render: MultipathConfig spec.overrides: Invalid value: line 2: blacklist wwid "^3600a" matches the allow-listed WWID 3600a`,
		},
		"a WWID twice (ignoring case) is refused: conflicts are resolved first": {
			luns: []mpv1alpha1.MultipathWWID{lun("a", "3600a"), lun("b", "3600A")},
			// Render knows no ages: the WWID sorting first (3600A) claims it.
			wantError: `cannot render: MultipathWWID "a".spec.wwid: Duplicate value: "3600a (also claimed by MultipathWWID \"b\"; resolve conflicts first)"`,
		},
		"an alias equal to another LUN's WWID is refused": {
			luns:      []mpv1alpha1.MultipathWWID{lun("a", "3600a"), lun("b", "3600b", withAlias("3600a"))},
			wantError: `cannot render: MultipathWWID "b".spec.alias: Duplicate value: "3600a (also claimed by MultipathWWID \"a\"; resolve conflicts first)"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := Render(tc.config, tc.luns)
			if tc.wantError != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantError) {
					t.Fatalf("error = %v, want one starting with %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, f := range r.Files {
				files = append(files, f.Name)
			}
			if !reflect.DeepEqual(files, tc.files) || r.Empty != tc.empty || r.LUNs != len(tc.luns) {
				t.Errorf("files %v empty %v luns %d; want %v %v %d", files, r.Empty, r.LUNs, tc.files, tc.empty, len(tc.luns))
			}
			if len(r.WWIDs) != len(tc.wwids) || len(tc.wwids) > 0 && !reflect.DeepEqual(r.WWIDs, tc.wwids) {
				t.Errorf("WWIDs = %v, want %v", r.WWIDs, tc.wwids)
			}
			if tc.hash != "" && r.Hash != tc.hash {
				t.Errorf("hash = %s, want %s", r.Hash, tc.hash)
			}
			bytes := 0
			for _, f := range r.Files {
				bytes += len(f.Content)
			}
			if r.Bytes != bytes {
				t.Errorf("Bytes = %d, want %d", r.Bytes, bytes)
			}
		})
	}
}

// TestRenderIsDeterministic renders the same objects in many orders: same bytes, same hash.
func TestRenderIsDeterministic(t *testing.T) {
	luns := manyLUNs(200)
	config := clusterConfig(withDefaults(allDefaults), withOverrides(realisticOverrides))
	first, err := Render(config, luns)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		shuffled := append([]mpv1alpha1.MultipathWWID(nil), luns...)
		rand.New(rand.NewPCG(uint64(round), 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		r, err := Render(config, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, first) {
			t.Fatalf("round %d: render differs (hash %s vs %s)", round, r.Hash, first.Hash)
		}
	}
}

// TestHashCoversEveryFile: any change to any file, or to a name, changes the hash.
func TestHashCoversEveryFile(t *testing.T) {
	base := []File{{"a", "x"}, {"b", "y"}}
	tests := map[string]struct{ files []File }{
		"a content changes":                {[]File{{"a", "x"}, {"b", "z"}}},
		"a name changes":                   {[]File{{"a", "x"}, {"c", "y"}}},
		"bytes move from a name to a file": {[]File{{"a", "x"}, {"", "by"}}},
		"bytes move between files":         {[]File{{"a", "xb"}, {"", "y"}}},
		"a file is dropped":                {[]File{{"a", "x"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if hashFiles(tc.files) == hashFiles(base) {
				t.Error("hash unchanged")
			}
		})
	}
	r := &Rendered{Hash: hashFiles(base)}
	if got, want := r.ConfigMapName(), "multipath-rendered-"+r.Hash[:16]; got != want || len(r.ShortHash()) != ShortHashLen {
		t.Errorf("ConfigMapName() = %q, want %q", got, want)
	}
}

// manyLUNs builds n LUNs of one array (a shared 20-digit prefix, as real NAA WWIDs have), each
// with an alias and three knobs.
func manyLUNs(n int) []mpv1alpha1.MultipathWWID {
	luns := make([]mpv1alpha1.MultipathWWID, n)
	policies := []mpv1alpha1.PathGroupingPolicy{mpv1alpha1.PathGroupingGroupByPrio, mpv1alpha1.PathGroupingMultibus}
	for i := range luns {
		id := strconv.FormatInt(int64(0x5a000000+i*7919), 16)
		luns[i] = lun("lun-"+strconv.Itoa(i), "3600a098038303053453f"+strings.Repeat("0", 11-len(id))+id,
			withAlias("db-"+strconv.Itoa(i)), withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) {
				k.NoPathRetry, k.PathGroupingPolicy, k.MaxSectorsKB = intOrInt(10+i%50), policies[i%2], i32(1024)
			}))
	}
	return luns
}
