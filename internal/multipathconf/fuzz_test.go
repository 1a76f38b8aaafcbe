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
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// The fuzz targets check each input purely (validation, render, read back with this package's
// own parser) and, where multipath-tools is installed, with the real parser. multipath -t takes
// tens of milliseconds, so while fuzzing the real checks are batched: accepted inputs collect
// into runs of up to realBatchSize files in all (or one second's worth), each input in its own
// conf.d file. When a batch fails, each of its inputs is re-run alone to name the culprit, which
// may be an earlier input than the one the fuzzer reports. Replaying the seed corpus (plain go
// test) queues every accepted input and runs the queue when the target ends.

const realBatchSize = 128

func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// realItem is one accepted input for the real parser: its own conf.d file, the names it
// claims (a run never holds two items claiming one name), and the check of multipath -t's
// output.
type realItem struct {
	input  string
	corpus string // the input as a testdata/fuzz corpus file, see corpusFile
	file   string
	keys   []string
	// check reads the item back from one version's multipath -t output.
	check func(cfg *mptest.Config, version string) []string
}

// realBatch queues items in lanes, each lane one multipath -t run: an item goes to the first
// lane where its names are free, so that inputs sharing a WWID (the fuzzer's mutations often
// do) do not force a run each. An input triggers at most one run, so that no single input
// takes long enough for the fuzz engine to think the worker hung.
type realBatch struct {
	mu      sync.Mutex
	lanes   []*realLane
	checked map[string]bool // inputs already checked
}

type realLane struct {
	items   []realItem
	claimed map[string]bool
	started time.Time
}

const realLanes = 4

var (
	realBatches   = map[string]*realBatch{}
	realBatchesMu sync.Mutex
)

// checkReal queues item for the real parser under the fuzz target's name, and runs a lane when
// it is full or, while fuzzing, a second old (see flushRealAtEnd for the seed corpus). It does
// nothing when multipath-tools is not available, except fail on CI.
func checkReal(t *testing.T, target string, item realItem) {
	t.Helper()
	if err := mptest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real multipath parser required on CI: %v", err)
		}
		return
	}
	realBatchesMu.Lock()
	b := realBatches[target]
	if b == nil {
		b = &realBatch{checked: map[string]bool{}}
		realBatches[target] = b
	}
	realBatchesMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.checked[item.input] {
		return
	}
	i := slices.IndexFunc(b.lanes, func(l *realLane) bool {
		return !slices.ContainsFunc(item.keys, func(k string) bool { return l.claimed[k] })
	})
	if i < 0 && len(b.lanes) == realLanes {
		// Every lane holds one of item's names: run the fullest, and queue item there.
		i = 0
		for j, l := range b.lanes {
			if len(l.items) > len(b.lanes[i].items) {
				i = j
			}
		}
		b.run(t, i)
	}
	if i < 0 {
		b.lanes = append(b.lanes, &realLane{claimed: map[string]bool{}})
		i = len(b.lanes) - 1
	}
	l := b.lanes[i]
	if len(l.items) == 0 {
		l.started = time.Now()
	}
	l.items = append(l.items, item)
	for _, k := range item.keys {
		l.claimed[k] = true
	}
	if len(l.items) >= realBatchSize {
		b.run(t, i)
		return
	}
	if fuzzing() {
		for j, l := range b.lanes {
			if len(l.items) > 0 && time.Since(l.started) > time.Second {
				b.run(t, j)
				return
			}
		}
	}
}

// run runs lane i and empties it.
func (b *realBatch) run(t testing.TB, i int) {
	t.Helper()
	l := b.lanes[i]
	b.lanes[i] = &realLane{claimed: map[string]bool{}}
	if len(l.items) == 0 {
		return
	}
	// Fuzzing checks the installed version only (a run per version would slow the engine down
	// eightfold); replaying the corpus checks every version of the matrix, each with the items
	// it takes (what it does not is refused by the render for its nodes).
	parsers := []*mptest.Parser{mptest.Default(t)}
	if !fuzzing() {
		parsers = mptest.Parsers(t)
	}
	for _, p := range parsers {
		var taken []realItem
		for _, it := range l.items {
			if len(LimitsIn(it.file, p.Version)) == 0 {
				taken = append(taken, it)
			}
		}
		if len(taken) > 0 {
			runReal(t, p, taken)
		}
	}
	for _, it := range l.items {
		b.checked[it.input] = true
	}
}

// flushRealAtEnd runs what the seed corpus left queued when the fuzz target ends. While fuzzing
// it does nothing: a worker stopped mid-input may hold the batch, and its last second of
// inputs is not worth the wait.
func flushRealAtEnd(f *testing.F, target string) {
	if fuzzing() {
		return
	}
	f.Cleanup(func() {
		realBatchesMu.Lock()
		b := realBatches[target]
		realBatchesMu.Unlock()
		if b != nil {
			b.mu.Lock()
			defer b.mu.Unlock()
			for i := range b.lanes {
				b.run(f, i)
			}
		}
	})
}

// runReal runs multipath -t once over items, each in its own file, and checks each. With
// FUZZ_REAL_LOG set to a file, it appends one line per run there (how much the real parser saw).
//
// While fuzzing, a failure may belong to an earlier input than the current one, which the fuzz
// engine would then fail to reproduce and drop. So runReal writes each failing input to
// testdata/fuzz/<target>/ itself, where plain go test replays it, and ends the worker, which
// the engine reports as a failure.
func runReal(t testing.TB, p *mptest.Parser, items []realItem) {
	t.Helper()
	cfg, stderr, err := p.Run(batchFiles(items))
	if log := os.Getenv("FUZZ_REAL_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s items=%d complaints=%d\n", t.Name(), len(items), len(stderr))
			f.Close()
		}
	}
	if err != nil {
		t.Fatalf("multipath -t: %v", err)
	}
	var failures []string
	var culprits []realItem
	if len(stderr) > 0 {
		for _, i := range culpritsOf(p, items, stderr) {
			it := items[i]
			_, alone, _ := p.Run(batchFiles([]realItem{it}))
			failures = append(failures, fmt.Sprintf("input %s\nfile:\n%s\nmultipath -t: %s", it.input, it.file, strings.Join(alone, "; ")))
			culprits = append(culprits, it)
		}
		if len(failures) == 0 {
			failures = append(failures, "no input fails alone: "+strings.Join(stderr, "; "))
		}
	} else {
		for _, it := range items {
			if problems := it.check(cfg, p.Version); len(problems) > 0 {
				failures = append(failures, fmt.Sprintf("input %s read back wrong through multipath -t:\n%s\nfile:\n%s",
					it.input, strings.Join(problems, "\n"), it.file))
				culprits = append(culprits, it)
			}
		}
	}
	if len(failures) == 0 {
		return
	}
	msg := fmt.Sprintf("real parser check (multipath-tools %s) of %d accepted inputs failed:\n%s", p.Version, len(items), strings.Join(failures, "\n"))
	if !fuzzing() {
		t.Fatal(msg)
	}
	target, _, _ := strings.Cut(t.Name(), "/")
	for _, it := range culprits {
		if it.corpus == "" {
			continue
		}
		sum := sha256.Sum256([]byte(it.corpus))
		path := filepath.Join("testdata", "fuzz", target, "real-parser-"+hex.EncodeToString(sum[:8]))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			if err := os.WriteFile(path, []byte(it.corpus), 0o644); err == nil {
				msg += "\nwrote " + path
			}
		}
	}
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(3)
}

var batchFileName = regexp.MustCompile(`fz-(\d{4})\.conf`)

// culpritsOf returns the indexes of the items multipath -t complained about: those its messages
// name, else those that fail alone, found by bisection (a run takes tens of milliseconds, and
// the fuzz engine ends a worker that does not answer for seconds).
func culpritsOf(p *mptest.Parser, items []realItem, stderr []string) []int {
	var named []int
	for _, line := range stderr {
		if m := batchFileName.FindStringSubmatch(line); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(items) && !slices.Contains(named, i) {
				named = append(named, i)
			}
		}
	}
	if len(named) > 0 {
		return named
	}
	var bisect func(lo, hi int) []int
	bisect = func(lo, hi int) []int {
		if _, complaints, _ := p.Run(batchFiles(items[lo:hi])); len(complaints) == 0 {
			return nil
		}
		if hi-lo == 1 {
			return []int{lo}
		}
		mid := (lo + hi) / 2
		return append(bisect(lo, mid), bisect(mid, hi)...)
	}
	return bisect(0, len(items))
}

// corpusFile writes fuzz arguments as a testdata/fuzz corpus file.
func corpusFile(args ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case string:
			b.WriteString("string(" + strconv.Quote(v) + ")\n")
		case uint8:
			b.WriteString("byte(" + strconv.QuoteRune(rune(v)) + ")\n")
		case int64:
			b.WriteString("int64(" + strconv.FormatInt(v, 10) + ")\n")
		case bool:
			b.WriteString("bool(" + strconv.FormatBool(v) + ")\n")
		}
	}
	return b.String()
}

func batchFiles(items []realItem) map[string]string {
	files := make(map[string]string, len(items))
	for i, it := range items {
		files[fmt.Sprintf("fz-%04d.conf", i)] = it.file
	}
	return files
}

// pureReadBack parses a rendered baseline with this package's parser, which must accept it,
// and returns the defaults keywords and each multipath subsection's keywords by wwid.
func pureReadBack(t *testing.T, baseline string) (map[string]string, map[string]map[string]string) {
	t.Helper()
	root, errs := parseConf(baseline)
	if len(errs) > 0 {
		t.Fatalf("the rendered baseline does not parse: %v\n%s", errs, baseline)
	}
	defaults := map[string]string{}
	multipaths := map[string]map[string]string{}
	var excepted []string
	for _, b := range root.children {
		switch b.name {
		case "defaults":
			for _, e := range b.entries {
				defaults[e.keyword] = e.value
			}
		case "multipaths":
			for _, mp := range b.children {
				kv := map[string]string{}
				for _, e := range mp.entries {
					if _, dup := kv[e.keyword]; dup {
						t.Fatalf("keyword %s twice in a multipath subsection:\n%s", e.keyword, baseline)
					}
					kv[e.keyword] = e.value
				}
				if _, dup := multipaths[kv["wwid"]]; dup {
					t.Fatalf("wwid %q twice:\n%s", kv["wwid"], baseline)
				}
				multipaths[kv["wwid"]] = kv
			}
		case "blacklist_exceptions":
			for _, e := range b.entries {
				if e.keyword != "wwid" {
					t.Fatalf("blacklist_exceptions holds %s, want only wwid:\n%s", e.keyword, baseline)
				}
				excepted = append(excepted, e.value)
			}
		default:
			t.Fatalf("unexpected section %q in the baseline", b.name)
		}
	}
	// Every LUN is excepted from host blacklists by its own anchored pattern, and by nothing
	// broader.
	var want []string
	for wwid := range multipaths {
		want = append(want, WWIDPattern(wwid))
	}
	slices.Sort(want)
	if !slices.Equal(excepted, want) {
		t.Fatalf("blacklist_exceptions wwid %q, want %q:\n%s", excepted, want, baseline)
	}
	return defaults, multipaths
}

// assertErrorsName checks that a refusal has errors, each naming a field under want.
func assertErrorsName(t *testing.T, errs fmt.Stringer, fields []string, wantPrefixes ...string) {
	t.Helper()
	if len(fields) == 0 {
		t.Fatal("refused without an error")
	}
	for _, f := range fields {
		if !slices.ContainsFunc(wantPrefixes, func(p string) bool { return f == p || strings.HasPrefix(f, p+".") }) {
			t.Fatalf("error names field %s, want one of %v: %v", f, wantPrefixes, errs)
		}
	}
}

type errorsList []string

func (e errorsList) String() string { return strings.Join(e, "; ") }

func FuzzRenderAlias(f *testing.F) {
	flushRealAtEnd(f, "FuzzRenderAlias")
	for _, seed := range [][3]string{
		{"data", validWWID, ""},
		{"pg-data_01.a:b", "3600A098:0383.0305-345_3f", "exclusive_pref_bit"},
		{`x" } multipath { wwid "evil`, validWWID, `x" } multipath { wwid "evil`},
		{"ok", validWWID, `"" } # ! { ""`},
		{"données", "abc", `a "b" #x !y`},
		{"mpathab", validWWID, ""},
		{"mpath1", validWWID, "\t"},
		{"a\nb", validWWID, "x\ny"},
		{".", "..", "control"},
		{"{}", strings.Repeat("A", 128), strings.Repeat(`"`, 255)},
		{strings.Repeat("𝄞", 64), validWWID, strings.Repeat("𝄞", 240)},
		{"\xff", validWWID, "\xc3"},
		{"", "", ""},
		{"a\u00a0b", "a b", "\u2028"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, alias, wwid, prioArgs string) {
		w := lun("fuzz", wwid, withAlias(alias), withLUNKnobs(func(k *mpv1alpha1.LUNKnobs) { k.PrioArgs = prioArgs }))
		errs := ValidateMultipathWWID(&w)
		_, renderErr := Render(nil, []mpv1alpha1.MultipathWWID{w})
		if len(errs) > 0 {
			var fields, msgs []string
			for _, e := range errs {
				fields = append(fields, e.Field)
				msgs = append(msgs, e.Error())
				if e.Detail == "" && e.Type != "Required value" && e.Type != "Too long" {
					t.Fatalf("error without a rule: %v", e)
				}
			}
			assertErrorsName(t, errorsList(msgs), fields, "spec.wwid", "spec.alias", "spec.prioArgs")
			if renderErr == nil {
				t.Fatalf("validation refuses (%v) but Render accepts", errs)
			}
			return
		}
		if renderErr != nil {
			t.Fatalf("validation accepts but Render refuses: %v", renderErr)
		}
		r, _ := Render(nil, []mpv1alpha1.MultipathWWID{w})
		baseline, _ := r.File(BaselineFileName)
		want := map[string]string{"wwid": wwid, "alias": MapName(&w.Spec)} // the WWID names a map without alias
		if prioArgs != "" {
			want["prio_args"] = prioArgs
		}
		_, multipaths := pureReadBack(t, baseline)
		if len(multipaths) != 1 || !mapsEqual(multipaths[wwid], want) {
			t.Fatalf("read back %v, want %s: %v\n%s", multipaths, wwid, want, baseline)
		}
		keys := []string{"name:" + strings.ToLower(wwid)}
		if alias != "" {
			keys = append(keys, "name:"+strings.ToLower(alias))
		}
		checkReal(t, "FuzzRenderAlias", realItem{
			input: fmt.Sprintf("alias %q wwid %q prioArgs %q", alias, wwid, prioArgs), file: baseline, keys: keys,
			corpus: corpusFile(alias, wwid, prioArgs),
			check:  func(cfg *mptest.Config, _ string) []string { return compareValues(cfg.Multipaths[wwid], want) },
		})
	})
}

// knobRows are the API rows FuzzRenderKnob picks from: per-LUN knobs, then defaults knobs.
func knobRow(index uint8, onLUN bool) *Keyword {
	if onLUN {
		return &keywords[lunKnobs[int(index)%len(lunKnobs)]]
	}
	return &keywords[defaultsKnobs[int(index)%len(defaultsKnobs)]]
}

var fuzzLUNs struct {
	sync.Mutex
	n int
}

func FuzzRenderKnob(f *testing.F) {
	flushRealAtEnd(f, "FuzzRenderKnob")
	for i := range max(len(lunKnobs), len(defaultsKnobs)) {
		f.Add(uint8(i), "no", int64(1), i%2 == 0, true)
		f.Add(uint8(i), "queue", int64(0), false, false)
		f.Add(uint8(i), "", int64(1000000), true, false)
	}
	f.Add(uint8(0), `x" } multipath { wwid "evil`, int64(-1), false, true)
	f.Add(uint8(3), "a\"b\n", int64(4294967296), true, true)
	f.Fuzz(func(t *testing.T, index uint8, text string, number int64, useNumber, onLUN bool) {
		k := knobRow(index, onLUN)
		var value any = text
		switch {
		case k.Value.Kind == KindBool:
			value = number&1 == 1
		case useNumber:
			value = number
		}
		raw, _ := json.Marshal(map[string]any{k.Field: value})
		config := clusterConfig()
		w := lun("fuzz", validWWID)
		target, path := any(&config.Spec.Defaults), "spec.defaults."+k.Field
		if onLUN {
			target, path = &w.Spec.LUNKnobs, "spec."+k.Field
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return // a value the field's Go type cannot hold never reaches validation
		}
		var v Value
		var fields, msgs []string
		if onLUN {
			v = k.FromLUN(&w.Spec.LUNKnobs)
			for _, e := range ValidateMultipathWWID(&w) {
				fields, msgs = append(fields, e.Field), append(msgs, e.Error())
			}
		} else {
			v = k.FromDefaults(&config.Spec.Defaults)
			for _, e := range ValidateMultipathConfig(config, nil) {
				fields, msgs = append(fields, e.Field), append(msgs, e.Error())
			}
		}
		r, renderErr := Render(config, []mpv1alpha1.MultipathWWID{w})
		if len(msgs) > 0 {
			assertErrorsName(t, errorsList(msgs), fields, path)
			if renderErr == nil {
				t.Fatalf("validation refuses (%v) but Render accepts", msgs)
			}
			return
		}
		if renderErr != nil {
			t.Fatalf("validation accepts but Render refuses: %v", renderErr)
		}
		baseline, _ := r.File(BaselineFileName)
		defaults, multipaths := pureReadBack(t, baseline)
		want := k.Value.Text(v)
		got := defaults[k.Name]
		if onLUN {
			got = multipaths[validWWID][k.Name]
		}
		if v.Set && got != want {
			t.Fatalf("%s %s read back as %q, want %q\n%s", k.Name, raw, got, want, baseline)
		}
		if !v.Set {
			return
		}
		// For the real parser, each LUN gets a WWID of its own; a defaults keyword may be set
		// by one file of a batch only.
		fuzzLUNs.Lock()
		fuzzLUNs.n++
		id := "fz" + strconv.Itoa(fuzzLUNs.n)
		fuzzLUNs.Unlock()
		item := realItem{input: fmt.Sprintf("%s = %s (on a LUN: %v)", k.Field, raw, onLUN),
			corpus: corpusFile(index, text, number, useNumber, onLUN)}
		if onLUN {
			w.Spec.WWID = id
			r, _ = Render(nil, []mpv1alpha1.MultipathWWID{w})
			item.file, _ = r.File(BaselineFileName)
			item.keys = []string{"name:" + id}
			item.check = func(cfg *mptest.Config, version string) []string {
				return compareValues(cfg.Multipaths[id], map[string]string{"wwid": id, "alias": id, k.Name: readBack(version, k.Name, want)})
			}
		} else {
			r, _ = Render(config, nil)
			item.file, _ = r.File(BaselineFileName)
			// Knobs multipathd reconciles with each other share a key, so that a run never holds
			// both from different inputs.
			item.keys = []string{"defaults:" + strings.TrimPrefix(k.Name, "max_")}
			item.check = func(cfg *mptest.Config, version string) []string {
				if got := cfg.Sections["defaults"].Get(k.Name); got != readBack(version, k.Name, want) {
					return []string{fmt.Sprintf("defaults %s = %q, want %q", k.Name, got, readBack(version, k.Name, want))}
				}
				return nil
			}
		}
		checkReal(t, "FuzzRenderKnob", item)
	})
}

func FuzzOverrides(f *testing.F) {
	flushRealAtEnd(f, "FuzzOverrides")
	for _, seed := range []string{
		"", realisticOverrides, "devices {\n}\n", "overrides {\n\tno_path_retry fail\n}\n",
		"blacklist {\n\twwid \"^3600a\"\n}\n", "blacklist {\n\twwid \"!x\"\n}\nblacklist_exceptions {\n\twwid \"3\"\n}\n",
		"defaults {\n\tuser_friendly_names yes\n}\n", "multipaths {\n\tmultipath {\n\t\twwid x\n\t}\n}\n",
		"devices {\n\tdevice {\n\t\tvendor \"A\"\n\t\tproduct \"B\"\n\t\tprio_args \"a \"\"b\"\" #c\"\n\t}\n}\n",
		"overrides {\n\tprotocol {\n\t\ttype \"scsi:fcp\"\n\t\tfast_io_fail_tmo 5\n\t}\n}\n",
		"defaults {\n\tuid_attrs \"sd:ID_SERIAL\"\n\tmax_fds max\n}\n", "}\n{\n", "overrides {\r\n}\r\n",
		"blacklist {\n\tdevice {\n\t\tvendor \"(\"\n\t\tproduct \".*\"\n\t}\n}\n",
		"blacklist {\n\twwid \"^st {3600a\"\n\tdevnode \"$*\"\n\twwid \"a{1,2}[{]\"\n}\n",
		"devices {\n\tdevice {\n\t\tvendor V\n\t\tproduct P\n\t\tfeatures \"1 queue_if_no_path\"\n\t\thardware_handler \"1 alua\"\n\t}\n}\n",
		"devices {\n\tdevice {\n\t\tvendor NETAPP\n\t\tproduct LUN\n\t\tfeatures \"2 queue_mode bio\"\n\t}\n\tdevice {\n\t\tvendor V\n\t\tproduct P\n\t}\n}\n",
	} {
		f.Add(seed)
	}
	allowListed := []string{validWWID, "36001405abcdef"}
	luns := []mpv1alpha1.MultipathWWID{lun("a", allowListed[0]), lun("b", allowListed[1])}
	f.Fuzz(func(t *testing.T, text string) {
		errs := CheckOverrides(text, allowListed)
		lines := strings.Count(text, "\n") + 1
		for i, e := range errs {
			if e.Message == "" || e.Line < 0 || e.Line > lines || i > 0 && errs[i-1].Line > e.Line {
				t.Fatalf("bad error list: %v", errs)
			}
		}
		if len(errs) > 0 {
			if _, err := Render(clusterConfig(withOverrides(text)), luns); err == nil {
				t.Fatalf("CheckOverrides refuses (%v) but Render accepts", errs)
			}
			return
		}
		r, err := Render(clusterConfig(withOverrides(text)), luns)
		if err != nil {
			t.Fatalf("CheckOverrides accepts but Render refuses: %v", err)
		}
		if text == "" {
			return
		}
		if got, _ := r.File(OverridesFileName); got != text {
			t.Fatalf("the overrides file is not the text verbatim")
		}
		checkReal(t, "FuzzOverrides", realItem{input: strconv.Quote(text), file: text, corpus: corpusFile(text),
			check: func(*mptest.Config, string) []string { return nil }})
	})
}

// compareValues compares a multipath -t entry with the values wanted, and nothing else.
func compareValues(got mptest.Values, want map[string]string) []string {
	var problems []string
	for k, v := range want {
		if g := got.Get(k); g != v || len(got[k]) != 1 {
			problems = append(problems, fmt.Sprintf("%s = %q, want %q", k, got[k], v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected keyword %s = %q", k, got[k]))
		}
	}
	return problems
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// FuzzRegex aims at the regular expressions of blacklists and device entries, where glibc's
// POSIX parser and Go's differ: a pattern checkRegex accepts must compile in multipathd.
func FuzzRegex(f *testing.F) {
	flushRealAtEnd(f, "FuzzRegex")
	for _, seed := range []string{"^3600a", "!^3", `\!x`, "(", "a{1,2,3}", "^{1}", "$*", "a{,2}", "[[:alpha:]]{2}", "[]a]", "[^]a]+",
		`\d`, "(?i)x", "a**", "a+?", "(|a)", "()", "[z-a]", "[[.a.]]", "[[=a=]]", `a\{1\}`, "x{}", `(a)\1`, "a{32767}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		q, err := Quote(pattern)
		if err != nil {
			return
		}
		text := "blacklist {\n\twwid " + q + "\n}\n"
		errs := CheckOverrides(text, nil)
		accepted := checkRegex(strings.TrimPrefix(pattern, "!")) == ""
		if accepted != (len(errs) == 0) {
			t.Fatalf("checkRegex says %v but CheckOverrides says %v", accepted, errs)
		}
		if accepted {
			checkReal(t, "FuzzRegex", realItem{input: strconv.Quote(pattern), file: text, corpus: corpusFile(pattern),
				check: func(*mptest.Config, string) []string { return nil }})
		}
	})
}
