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
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// ImportSource is one multipath.conf text to import, named for the report. Sources are given in
// the order multipathd reads them (/etc/multipath.conf, then conf.d/*.conf by name): a later
// value of a keyword replaces an earlier one, as it does in multipathd.
type ImportSource struct {
	Name string
	Text string
}

// ImportNote is one thing Import did not carry over, and why, at Source:Line.
type ImportNote struct {
	Source  string
	Line    int
	Message string
}

// String reads "multipath.conf:7: keyword ...".
func (n ImportNote) String() string {
	if n.Line == 0 {
		return n.Source + ": " + n.Message
	}
	return n.Source + ":" + strconv.Itoa(n.Line) + ": " + n.Message
}

// Imported is what Import carried over: objects that pass the same validation as admission and
// render with Render.
type Imported struct {
	// Config is the MultipathConfig "cluster", nil when no knob and no overrides were found.
	Config *mpv1alpha1.MultipathConfig
	// WWIDs are the LUNs of the multipaths sections, in the order first seen.
	WWIDs []mpv1alpha1.MultipathWWID
	// Notes are what was not carried over, in source and line order.
	Notes []ImportNote
	// ShowConfig names the sources read as `multipathd show config` (or `multipath -t`) output:
	// their values equal to multipath-tools 0.9.4's built-in ones were skipped.
	ShowConfig []string
	// BuiltinSkipped counts the values skipped that way.
	BuiltinSkipped int
}

// builtinConf is `multipath -t` of multipath-tools 0.9.4 with no configuration at all: its
// built-in defaults, blacklist and hardware table. TestBuiltinMatchesRealParser re-checks it.
//
//go:embed builtin/0.9.4.conf
var builtinConf string

var builtinOnce = sync.OnceValue(func() *importTree {
	root, _ := parseConf(builtinConf)
	t := newImportTree()
	t.merge(root, "builtin", nil, nil, nil)
	return t
})

// importLoc is where an imported line came from.
type importLoc struct {
	source string
	line   int
}

// importEntry is one `keyword value` line on its way to the output.
type importEntry struct {
	keyword, value string
	loc            importLoc
}

// importBlock is a merged (sub)section: one per top-level section name, one per device identity
// (vendor, product, revision) or protocol type, as multipathd merges them.
type importBlock struct {
	name     string
	loc      importLoc
	entries  []importEntry
	children []*importBlock
	ids      map[string]*importBlock
}

func (b *importBlock) set(e importEntry, repeatable bool) {
	if repeatable {
		if !slices.ContainsFunc(b.entries, func(o importEntry) bool { return o.keyword == e.keyword && o.value == e.value }) {
			b.entries = append(b.entries, e)
		}
		return
	}
	if i := slices.IndexFunc(b.entries, func(o importEntry) bool { return o.keyword == e.keyword }); i >= 0 {
		b.entries[i] = e
		return
	}
	b.entries = append(b.entries, e)
}

func (b *importBlock) get(keyword string) (importEntry, bool) {
	for _, e := range b.entries {
		if e.keyword == keyword {
			return e, true
		}
	}
	return importEntry{}, false
}

// importTree holds the merged sections of every source.
type importTree struct {
	top map[string]*importBlock
}

// overridesOrder is the order sections are written into spec.overrides.
var overridesOrder = []string{"defaults", "blacklist", "blacklist_exceptions", "devices", "overrides"}

func newImportTree() *importTree { return &importTree{top: map[string]*importBlock{}} }

// subID is the identity under which multipathd merges a subsection: vendor, product and
// revision of a device, type of a protocol, wwid of a multipath.
func subID(b *confBlock) string {
	val := func(k string) string {
		for _, e := range b.entries {
			if e.keyword == k {
				return e.value
			}
		}
		return "\x00"
	}
	switch b.name {
	case "device":
		return val("vendor") + "\x01" + val("product") + "\x01" + val("revision")
	case "protocol":
		return val("type")
	case "multipath":
		return strings.ToLower(val("wwid"))
	}
	return ""
}

// merge adds a parsed source. skip, when set, drops entries equal to the built-in ones.
func (t *importTree) merge(root *confBlock, source string, skip *importTree, skipped *int, bad map[int]bool) {
	for _, b := range root.children {
		if b.rule == nil || bad[b.line] {
			continue // reported by the parser
		}
		top := t.top[b.name]
		if top == nil {
			top = &importBlock{name: b.name, loc: importLoc{source, b.line}, ids: map[string]*importBlock{}}
			t.top[b.name] = top
		}
		var builtinTop *importBlock
		if skip != nil {
			builtinTop = skip.top[b.name]
		}
		mergeEntries(top, b, source, builtinTop, skipped)
		for _, c := range b.children {
			if c.rule == nil || bad[c.line] {
				continue
			}
			id := subID(c)
			var builtinSub *importBlock
			if builtinTop != nil {
				builtinSub = builtinTop.ids[id]
			}
			sub := top.ids[id]
			created := sub == nil
			if created {
				sub = &importBlock{name: c.name, loc: importLoc{source, c.line}}
				top.ids[id] = sub
				top.children = append(top.children, sub)
			}
			if !mergeEntries(sub, c, source, builtinSub, skipped) && created && builtinSub != nil {
				// Exactly a built-in subsection: nothing to carry over.
				delete(top.ids, id)
				top.children = top.children[:len(top.children)-1]
			}
		}
	}
}

// mergeEntries merges src into dst and reports whether it kept an entry that is not the
// subsection's identity.
func mergeEntries(dst *importBlock, src *confBlock, source string, builtin *importBlock, skipped *int) bool {
	section := src.rule.section
	kept := false
	for _, e := range src.entries {
		if builtin != nil {
			if slices.ContainsFunc(builtin.entries, func(o importEntry) bool { return o.keyword == e.keyword && o.value == e.value }) &&
				!isIdentity(src.name, e.keyword) {
				*skipped++
				continue
			}
		}
		repeatable := false
		if k := lookup(e.keyword, section); k != nil {
			repeatable = k.Repeatable
		}
		dst.set(importEntry{keyword: e.keyword, value: e.value, loc: importLoc{source, e.line}}, repeatable)
		kept = kept || !isIdentity(src.name, e.keyword)
	}
	return kept
}

// isIdentity reports whether a keyword names its subsection (kept even when built in).
func isIdentity(block, keyword string) bool {
	switch block {
	case "device":
		return keyword == "vendor" || keyword == "product" || keyword == "revision"
	case "protocol":
		return keyword == "type"
	case "multipath":
		return keyword == "wwid"
	}
	return false
}

// looksLikeShowConfig reports whether a source is `multipathd show config` or `multipath -t`
// output: they print the state files, which a hand-written file rarely sets, and every default.
func looksLikeShowConfig(root *confBlock) bool {
	for _, b := range root.children {
		if b.name != "defaults" {
			continue
		}
		has := map[string]bool{}
		for _, e := range b.entries {
			has[e.keyword] = true
		}
		return has["wwids_file"] && has["bindings_file"] && len(b.entries) >= 20
	}
	return false
}

// importer gathers the objects and the notes.
type importer struct {
	notes []ImportNote
}

func (im *importer) note(loc importLoc, format string, args ...any) {
	im.notes = append(im.notes, ImportNote{Source: loc.source, Line: loc.line, Message: fmt.Sprintf(format, args...)})
}

// Import turns existing multipath.conf texts (files, conf.d drop-ins, or `multipathd show config`
// output) into a MultipathConfig and MultipathWWIDs: typed knobs from defaults sections, aliases
// and per-LUN knobs from multipaths sections, every other section into spec.overrides where
// CheckOverrides accepts it. What cannot be carried over is dropped and said in Notes, with its
// file and line. The result passes ValidateMultipathConfig, ValidateMultipathWWID and
// ResolveConflicts, and renders: an error means a bug here, not bad input.
func Import(sources []ImportSource) (*Imported, error) {
	im := &importer{}
	out := &Imported{}
	tree := newImportTree()
	order := map[string]int{}
	for i, s := range sources {
		order[s.Name] = i
		root, errs := parseConf(s.Text)
		bad := map[int]bool{}
		for _, e := range errs {
			im.note(importLoc{s.Name, e.Line}, "%s: not carried over", e.Message)
			bad[e.Line] = true
		}
		var skip *importTree
		skipped := 0
		if looksLikeShowConfig(root) {
			skip = builtinOnce()
			out.ShowConfig = append(out.ShowConfig, s.Name)
		}
		tree.merge(root, s.Name, skip, &skipped, bad)
		out.BuiltinSkipped += skipped
	}

	wwids := im.wwids(tree.top["multipaths"])
	res := ResolveConflicts(wwids)
	for _, w := range wwids {
		c, lost := res.Conflicts[w.Name]
		if !lost {
			continue
		}
		im.note(importLoc{w.Annotations[annoSource], atoi(w.Annotations[annoLine])},
			"MultipathWWID %s: %s: the LUN is not carried over", w.Name, c.Message)
	}
	allow := make([]string, len(res.Winners))
	for i := range res.Winners {
		allow[i] = res.Winners[i].Spec.WWID
		delete(res.Winners[i].Annotations, annoSource)
		delete(res.Winners[i].Annotations, annoLine)
		if len(res.Winners[i].Annotations) == 0 {
			res.Winners[i].Annotations = nil
		}
	}
	out.WWIDs = res.Winners

	defaults := im.defaults(tree.top["defaults"])
	overrides := im.overrides(tree, allow)
	if defaults != nil || overrides != "" {
		cfg := &mpv1alpha1.MultipathConfig{}
		cfg.APIVersion, cfg.Kind = mpv1alpha1.SchemeGroupVersion.String(), "MultipathConfig"
		cfg.Name = mpv1alpha1.ClusterConfigName
		if defaults != nil {
			cfg.Spec.Defaults = *defaults
		}
		cfg.Spec.Overrides = overrides
		if errs := ValidateMultipathConfig(cfg, allow); len(errs) > 0 {
			return nil, fmt.Errorf("imported MultipathConfig is invalid: %v", errs.ToAggregate())
		}
		out.Config = cfg
	}
	if _, err := Render(out.Config, out.WWIDs); err != nil {
		return nil, fmt.Errorf("imported objects do not render: %w", err)
	}
	slices.SortStableFunc(im.notes, func(a, b ImportNote) int {
		if c := order[a.Source] - order[b.Source]; c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	out.Notes = im.notes
	return out, nil
}

// Annotations carrying where a MultipathWWID came from, while Import works; removed before return.
const (
	annoSource = "import.kube-multipath.io/source"
	annoLine   = "import.kube-multipath.io/line"
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// apiValue converts a multipath.conf value of a typed keyword into the API's JSON value, or says
// why it cannot.
func apiValue(k *Keyword, text string) (any, string) {
	spec := &k.Value
	if spec.Kind == KindBool {
		// multipathd also takes on/off for its switches, and prints marginal_pathgroups that way.
		switch text {
		case "on":
			text = spec.BoolWords[1]
		case "off":
			text = spec.BoolWords[0]
		}
	}
	if why := spec.checkText(text); why != "" {
		return nil, why
	}
	switch spec.Kind {
	case KindBool:
		return text == spec.BoolWords[1], ""
	case KindInt:
		n, _ := parseDecimal(text)
		return n, ""
	case KindIntOrKeyword:
		if contains(spec.Enum, text) {
			return text, ""
		}
		n, _ := parseDecimal(text)
		return n, ""
	}
	return text, ""
}

// typedRow returns the API row a keyword sets in a section (following AliasOf), or nil.
func typedRow(keyword string, section Section) *Keyword {
	k := lookup(keyword, section)
	if k == nil {
		return nil
	}
	if k.AliasOf != "" {
		k = lookup(k.AliasOf, section)
	}
	if k == nil || k.Field == "" || (k.Scope != ScopeLUN && k.Scope != ScopeDefaults) {
		return nil
	}
	if section == SectionMultipath && k.Scope != ScopeLUN {
		return nil
	}
	return k
}

// whyNot says why spec.overrides cannot carry a keyword of a section, or "" when it can.
func whyNot(keyword string, section Section) string {
	k := lookup(keyword, section)
	switch {
	case k == nil && known(keyword):
		return "keyword " + strconv.Quote(keyword) + " is not valid in the " + section.String() + " section (multipath-tools 0.9.4)"
	case k == nil:
		return "unknown keyword " + strconv.Quote(keyword) + " in the " + section.String() + " section (multipath-tools 0.9.4 does not know it)"
	case k.Forbidden():
		return "keyword " + strconv.Quote(keyword) + " is " + k.Why
	}
	return ""
}

// defaults takes the typed knobs out of the merged defaults section (the rest stays there, for
// spec.overrides) and returns them, nil when there are none.
func (im *importer) defaults(b *importBlock) *mpv1alpha1.MultipathDefaults {
	if b == nil {
		return nil
	}
	fields := map[string]any{}
	locs := map[string]importLoc{}
	var rest []importEntry
	for _, e := range b.entries {
		if why := whyNot(e.keyword, SectionDefaults); why != "" {
			im.note(e.loc, "%s: not carried over", why)
			continue
		}
		k := typedRow(e.keyword, SectionDefaults)
		if k == nil {
			rest = append(rest, e)
			continue
		}
		v, why := apiValue(k, e.value)
		if why != "" {
			im.note(e.loc, "invalid value %q for %s: %s: not carried over", e.value, e.keyword, why)
			continue
		}
		fields[k.Field], locs[k.Field] = v, e.loc
	}
	b.entries = rest
	if len(fields) == 0 {
		return nil
	}
	d := &mpv1alpha1.MultipathDefaults{}
	for {
		if err := fromFields(fields, d); err != nil {
			panic(err) // apiValue produced a value of the wrong JSON type: a bug in the table
		}
		errs := ValidateDefaults(d, specPath.Child("defaults"))
		if len(errs) == 0 {
			break
		}
		progress := false
		for _, e := range errs {
			name := lastField(e.Field)
			if _, ok := fields[name]; !ok {
				continue
			}
			im.note(locs[name], "spec.defaults.%s: %s: not carried over", name, e.ErrorBody())
			delete(fields, name)
			progress = true
		}
		if !progress {
			im.note(b.loc, "spec.defaults: %s: the typed knobs are not carried over", errs.ToAggregate())
			return nil
		}
		*d = mpv1alpha1.MultipathDefaults{}
	}
	if len(fields) == 0 {
		return nil
	}
	return d
}

func fromFields(fields map[string]any, into any) error {
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// lastField is the last element of a field path: "spec.defaults.verbosity" -> "verbosity".
func lastField(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// objectName is a valid object name for a LUN: its alias when that is one, else its WWID in
// lower case with other characters replaced.
func objectName(alias, wwid string) string {
	if alias != "" && len(validation.IsDNS1123Subdomain(alias)) == 0 {
		return alias
	}
	name := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(wwid), "-"), "-.")
	if len(name) > 253 {
		name = name[:253]
	}
	return name
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9.-]+`)

// wwids builds one MultipathWWID per multipath subsection.
func (im *importer) wwids(multipaths *importBlock) []mpv1alpha1.MultipathWWID {
	if multipaths == nil {
		return nil
	}
	for _, e := range multipaths.entries {
		im.note(e.loc, "the multipaths section holds only multipath subsections: not carried over")
	}
	var out []mpv1alpha1.MultipathWWID
	names := map[string]bool{}
	for _, m := range multipaths.children {
		wwidEntry, ok := m.get("wwid")
		if !ok {
			im.note(m.loc, "a multipath subsection without a wwid (multipathd ignores it): not carried over")
			continue
		}
		fields := map[string]any{"wwid": wwidEntry.value}
		locs := map[string]importLoc{"wwid": wwidEntry.loc}
		for _, e := range m.entries {
			switch e.keyword {
			case "wwid":
				continue
			case "alias":
				fields["alias"], locs["alias"] = e.value, e.loc
				continue
			}
			if why := whyNot(e.keyword, SectionMultipath); why != "" {
				im.note(e.loc, "%s: not carried over", why)
				continue
			}
			k := typedRow(e.keyword, SectionMultipath)
			if k == nil {
				im.note(e.loc, "keyword %q of a multipath subsection has no MultipathWWID field, and spec.overrides holds no multipaths section: "+
					"not carried over (set it in a devices section of spec.overrides for the whole array)", e.keyword)
				continue
			}
			v, why := apiValue(k, e.value)
			if why != "" {
				im.note(e.loc, "invalid value %q for %s: %s: not carried over", e.value, e.keyword, why)
				continue
			}
			fields[k.Field], locs[k.Field] = v, e.loc
		}
		w := mpv1alpha1.MultipathWWID{}
		for {
			w = mpv1alpha1.MultipathWWID{}
			if err := fromFields(fields, &w.Spec); err != nil {
				panic(err) // apiValue produced a value of the wrong JSON type: a bug in the table
			}
			errs := ValidateMultipathWWID(&w)
			if len(errs) == 0 {
				break
			}
			progress := false
			for _, e := range errs {
				name := fieldName(e)
				if _, ok := fields[name]; !ok || name == "wwid" {
					continue
				}
				im.note(locs[name], "spec.%s: %s: not carried over", name, e.ErrorBody())
				delete(fields, name)
				progress = true
			}
			if !progress {
				im.note(wwidEntry.loc, "%s: the LUN is not carried over", errs.ToAggregate())
				w.Spec.WWID = ""
				break
			}
		}
		if w.Spec.WWID == "" {
			continue
		}
		w.APIVersion, w.Kind = mpv1alpha1.SchemeGroupVersion.String(), "MultipathWWID"
		name := objectName(w.Spec.Alias, w.Spec.WWID)
		for i := 2; names[name]; i++ {
			name = objectName(w.Spec.Alias, w.Spec.WWID) + "-" + strconv.Itoa(i)
		}
		names[name] = true
		w.Name = name
		w.Annotations = map[string]string{annoSource: m.loc.source, annoLine: strconv.Itoa(m.loc.line)}
		out = append(out, w)
	}
	return out
}

func fieldName(e *field.Error) string { return strings.TrimPrefix(e.Field, "spec.") }

// overrides writes the sections spec.overrides may hold, then drops, with a note, each line
// CheckOverrides refuses (a refused subsection goes whole), until it accepts the rest.
func (im *importer) overrides(t *importTree, allow []string) string {
	dropped := map[importLoc]bool{}
	for range 50 {
		text, locs := t.render(dropped)
		errs := CheckOverrides(text, allow)
		if len(errs) == 0 {
			return text
		}
		progress := false
		for _, e := range errs {
			loc, ok := locs[e.Line]
			if !ok || dropped[loc] {
				continue
			}
			dropped[loc] = true
			progress = true
			im.note(loc, "%s: not carried over", e.Message)
		}
		if !progress {
			break
		}
	}
	text, _ := t.render(dropped)
	for _, e := range CheckOverrides(text, allow) {
		im.note(importLoc{source: "spec.overrides", line: e.Line}, "%s: spec.overrides not carried over", e.Message)
	}
	return ""
}

// render writes the sections for spec.overrides, leaving out the dropped lines, and maps each
// written line to its source.
func (t *importTree) render(dropped map[importLoc]bool) (string, map[int]importLoc) {
	var b strings.Builder
	locs := map[int]importLoc{}
	line := 0
	write := func(indent int, s string, loc importLoc) {
		line++
		locs[line] = loc
		// Spaces, not tabs: YAML prints a text with tabs as one quoted line, not as a block.
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString(s)
		b.WriteByte('\n')
	}
	entries := func(indent int, es []importEntry) {
		for _, e := range es {
			if dropped[e.loc] {
				continue
			}
			q := e.keyword + " "
			var sb strings.Builder
			writeQuoted(&sb, e.value)
			write(indent, q+sb.String(), e.loc)
		}
	}
	for _, name := range overridesOrder {
		top := t.top[name]
		if top == nil || dropped[top.loc] {
			continue
		}
		live := slices.DeleteFunc(slices.Clone(top.children), func(c *importBlock) bool {
			return dropped[c.loc] || !slices.ContainsFunc(c.entries, func(e importEntry) bool { return !dropped[e.loc] })
		})
		if !slices.ContainsFunc(top.entries, func(e importEntry) bool { return !dropped[e.loc] }) && len(live) == 0 {
			continue
		}
		write(0, name+" {", top.loc)
		entries(1, top.entries)
		for _, c := range live {
			write(1, c.name+" {", c.loc)
			entries(2, c.entries)
			write(1, "}", c.loc)
		}
		write(0, "}", top.loc)
	}
	return b.String(), locs
}

// ObjectName is the object name `import` and `adopt` give a LUN: its alias when that is a
// valid object name, else its WWID in lower case with other characters replaced.
func ObjectName(alias, wwid string) string { return objectName(alias, wwid) }
