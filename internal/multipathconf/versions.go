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
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Nodes run every multipath-tools from 0.8.4 (RHEL 8) to 0.14.x (Fedora), all fed the same
// rendered files. The keyword table describes 0.9.4; limits lists what another version of the
// tested matrix does not take, each proven against that version's own parser
// (TestLimitsMatchRealParsers runs every build of hack/multipath-tools.sh). Where one spelling
// works on every version the table renders that one instead (marginal_pathgroups yes/no), so a
// limit is left only where none does.

// TestedVersions are the multipath-tools versions the real-parser tests run, oldest first: the
// release tarballs in hack/multipath-tools/src. A node outside [first, last] is outside the
// tested range.
var TestedVersions = []string{"0.8.4", "0.8.7", "0.8.8", "0.9.4", "0.9.7", "0.9.9", "0.11.1", "0.14.3"}

// How a version fails to take a construct; each completes "multipath-tools V ...".
const (
	// LimitUnknown: it logs "invalid keyword" and ignores the line.
	LimitUnknown = "does not know it and ignores it"
	// LimitRefused: it logs "invalid value" and keeps its default.
	LimitRefused = "refuses the value and keeps its default"
	// LimitSilent: it keeps its default without a word (0.8.4 and 0.8.7 log nothing for a bad
	// enum value), so neither the agent's check nor a log would show it.
	LimitSilent = "ignores the value without logging anything"
	// LimitDeprecated: it logs a deprecation and maps the value to another.
	LimitDeprecated = "logs it as deprecated and reads it as another value"
	// LimitLeaked: it does not know the subsection and applies its keywords to the enclosing
	// section, i.e. to every path.
	LimitLeaked = "does not know the subsection and applies its keywords to the whole section, every path"
	// LimitQuotedComment: it takes a # or ! right after an opening quote for a comment, loses
	// the value and logs "missing closing quotes".
	LimitQuotedComment = "reads a quoted value starting with # or ! as a comment and loses the value"
)

// allSections is every section a keyword can be in.
const allSections Section = 1<<len(sectionNames) - 1

// Limit is a construct a range of multipath-tools versions does not take as written.
type Limit struct {
	// Keyword is the multipath.conf keyword, or the subsection name when Subsection is set;
	// "" is any keyword.
	Keyword string
	// Sections are where the limit applies; a Keyword limited everywhere lists every section
	// the table accepts it in.
	Sections Section
	// Values are the limited values, and ValuePrefixes their beginnings; none means every value.
	Values, ValuePrefixes []string
	// Before and From bound the versions that do not take it: those before Before, or from
	// From on ("" leaves that side open).
	Before, From string
	// How completes "multipath-tools V ..." (one of the Limit* constants).
	How string
	// Subsection marks a subsection limit (overrides { protocol {} }).
	Subsection bool
}

// limits is every difference from 0.9.4 the matrix shows for a construct kube-multipath can
// render or let through spec.overrides. Keywords only later versions add are not listed: the
// table does not know them, so nothing renders them or lets them through.
var limits = []Limit{
	{Keyword: "recheck_wwid", Sections: inDefaultsDeviceOverrides, Before: "0.8.7", How: LimitUnknown},
	{Keyword: "allow_usb_devices", Sections: SectionDefaults, Before: "0.8.7", How: LimitUnknown},
	{Keyword: "eh_deadline", Sections: inAnyProtocol, Before: "0.8.7", How: LimitUnknown},
	{Keyword: "protocol", Sections: SectionOverrides, Subsection: true, Before: "0.9.4", How: LimitLeaked},
	{Keyword: "flush_on_last_del", Sections: inLUN, Values: []string{"yes", "no"}, From: "0.9.9", How: LimitDeprecated},
	// Fixed upstream in 0.8.5 or 0.8.6; 0.8.7 is the first tested version without it.
	{Sections: allSections, ValuePrefixes: []string{"#", "!"}, Before: "0.8.7", How: LimitQuotedComment},
}

// Limits returns a copy of the limits.
func Limits() []Limit { return slices.Clone(limits) }

// Applies reports whether the limit holds for version.
func (l *Limit) Applies(version string) bool {
	return (l.Before == "" || CompareVersions(version, l.Before) < 0) &&
		(l.From == "" || CompareVersions(version, l.From) >= 0)
}

// Range says which versions it holds for, e.g. "before 0.8.7" or "0.9.9 and later".
func (l *Limit) Range() string {
	switch {
	case l.Before != "" && l.From != "":
		return "from " + l.From + " and before " + l.Before
	case l.Before != "":
		return "before " + l.Before
	default:
		return l.From + " and later"
	}
}

// matches reports whether the limit is about keyword with value in a section of sections.
func (l *Limit) matches(keyword string, sections Section, value string, subsection bool) bool {
	if l.Keyword != "" && l.Keyword != keyword || l.Subsection != subsection || l.Sections&sections == 0 {
		return false
	}
	if len(l.Values) == 0 && len(l.ValuePrefixes) == 0 {
		return true
	}
	return slices.Contains(l.Values, value) ||
		slices.ContainsFunc(l.ValuePrefixes, func(p string) bool { return strings.HasPrefix(value, p) })
}

// LimitFor returns the limit a version puts on keyword = value in section (the value is
// ignored for a subsection), and false when the version takes it.
func LimitFor(version, keyword string, section Section, value string, subsection bool) (Limit, bool) {
	for _, l := range limits {
		if l.matches(keyword, section, value, subsection) && l.Applies(version) {
			return l, true
		}
	}
	return Limit{}, false
}

var versionPattern = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)

// ValidVersion reports whether v reads as a multipath-tools version ("0.9.4").
func ValidVersion(v string) bool { return versionPattern.MatchString(v) }

// CompareVersions orders dotted versions numerically ("0.9.4" < "0.11.1").
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// InTestedRange reports whether a node's version lies within the tested matrix. Versions
// between two tested ones are taken as behaving like their neighbours: every limit is a range.
func InTestedRange(version string) bool {
	return ValidVersion(version) && CompareVersions(version, TestedVersions[0]) >= 0 &&
		CompareVersions(version, TestedVersions[len(TestedVersions)-1]) <= 0
}

// VersionError is a rendered construct some nodes' multipath-tools does not take.
type VersionError struct {
	// Field is the API field path ("spec.defaults.recheckWWID", "spec.overrides").
	Field string
	// Construct names it as multipath.conf spells it ("recheck_wwid", `flush_on_last_del "yes"`,
	// "overrides { protocol {} }"), with the overrides line when it comes from there.
	Construct string
	Line      int
	Limit     Limit
	// Versions maps each limited version to its nodes, sorted (none when the version was named
	// without nodes, as `kubectl multipath render --multipath-tools-version` does).
	Versions map[string][]string
}

// Detail is the message, naming the construct, each version and its nodes.
func (e *VersionError) Detail() string {
	versions := make([]string, 0, len(e.Versions))
	for v := range e.Versions {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, CompareVersions)
	var parts []string
	for _, v := range versions {
		part := "multipath-tools " + v
		if nodes := e.Versions[v]; len(nodes) > 0 {
			part += " on " + nodeList(nodes)
		}
		parts = append(parts, part)
	}
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf("line %d: ", e.Line)
	}
	return fmt.Sprintf("%s%s is not taken by %s: multipath-tools %s %s", where, e.Construct,
		strings.Join(parts, ", "), e.Limit.Range(), e.Limit.How)
}

// nodeList names up to five nodes, then how many more.
func nodeList(nodes []string) string {
	const shown = 5
	if len(nodes) <= shown {
		return "node " + strings.Join(nodes, ", ")
	}
	return fmt.Sprintf("nodes %s and %d more", strings.Join(nodes[:shown], ", "), len(nodes)-shown)
}

// construct is one keyword line, or one subsection, of multipath.conf text.
type construct struct {
	keyword    string
	section    Section
	value      string
	line       int
	subsection bool
}

// String spells it as multipath.conf does: `keyword "value"`, or "overrides { protocol {} }".
func (c construct) String() string {
	if c.subsection {
		return c.section.String() + " { " + c.keyword + " {} }"
	}
	q, err := Quote(c.value)
	if err != nil {
		q = c.value
	}
	return c.keyword + " " + q
}

// textConstructs lists the constructs of multipath.conf text as parseConf reads it (what it
// cannot read is CheckOverrides' business).
func textConstructs(text string) []construct {
	root, _ := parseConf(text)
	var out []construct
	var walk func(b *confBlock)
	walk = func(b *confBlock) {
		if b.rule == nil {
			return
		}
		section := b.rule.section
		for _, e := range b.entries {
			if section != 0 {
				out = append(out, construct{keyword: e.keyword, section: section, value: e.value, line: e.line})
			}
		}
		for _, child := range b.children {
			if section != 0 {
				out = append(out, construct{keyword: child.name, section: section, line: child.line, subsection: true})
			}
			walk(child)
		}
	}
	for _, b := range root.children {
		walk(b)
	}
	return out
}

// LimitHit is a construct of a multipath.conf text that a version does not take.
type LimitHit struct {
	// Line is the 1-based line of the construct.
	Line int
	// Construct spells it, e.g. `eh_deadline "off"` or "overrides { protocol {} }".
	Construct string
	Limit     Limit
}

// LimitsIn returns what version does not take in multipath.conf text, in line order.
func LimitsIn(text, version string) []LimitHit {
	var hits []LimitHit
	for _, c := range textConstructs(text) {
		if l, ok := LimitFor(version, c.keyword, c.section, c.value, c.subsection); ok {
			hits = append(hits, LimitHit{Line: c.line, Construct: c.String(), Limit: l})
		}
	}
	return hits
}

// fieldConstruct is a construct rendered from one API field.
type fieldConstruct struct {
	path *field.Path
	construct
}

// configConstructs lists what a MultipathConfig renders: its typed defaults and its overrides.
func configConstructs(config *mpv1alpha1.MultipathConfig) []fieldConstruct {
	var out []fieldConstruct
	defaults := field.NewPath("spec", "defaults")
	for _, i := range defaultsKnobs {
		k := &keywords[i]
		if v := k.FromDefaults(&config.Spec.Defaults); v.Set {
			out = append(out, fieldConstruct{defaults.Child(k.Field), construct{keyword: k.Name, section: SectionDefaults, value: k.Value.Text(v)}})
		}
	}
	for _, c := range textConstructs(config.Spec.Overrides) {
		out = append(out, fieldConstruct{field.NewPath("spec", "overrides"), c})
	}
	return out
}

// wwidConstructs lists what a MultipathWWID renders in its multipath subsection.
func wwidConstructs(w *mpv1alpha1.MultipathWWID) []fieldConstruct {
	spec := field.NewPath("spec")
	out := []fieldConstruct{{spec.Child("wwid"), construct{keyword: "wwid", section: SectionMultipath, value: w.Spec.WWID}}}
	if w.Spec.Alias != "" {
		out = append(out, fieldConstruct{spec.Child("alias"), construct{keyword: "alias", section: SectionMultipath, value: w.Spec.Alias}})
	}
	for _, i := range lunKnobs {
		k := &keywords[i]
		if v := k.FromLUN(&w.Spec.LUNKnobs); v.Set {
			out = append(out, fieldConstruct{spec.Child(k.Field), construct{keyword: k.Name, section: SectionMultipath, value: k.Value.Text(v)}})
		}
	}
	return out
}

// CheckConfigVersions refuses what the MultipathConfig renders that some node's
// multipath-tools does not take. nodes maps each version the selected nodes run to those nodes
// (none, offline); nodes of an unknown or unreadable version are left out by the caller.
func CheckConfigVersions(config *mpv1alpha1.MultipathConfig, nodes map[string][]string) field.ErrorList {
	if config == nil {
		return nil
	}
	return checkVersions(configConstructs(config), nodes)
}

// CheckWWIDVersions refuses what a MultipathWWID renders that some node's multipath-tools does
// not take. Every selected node gets every LUN's subsection, so every node counts.
func CheckWWIDVersions(w *mpv1alpha1.MultipathWWID, nodes map[string][]string) field.ErrorList {
	return checkVersions(wwidConstructs(w), nodes)
}

// NodesByVersion groups nodes (name -> reported version) by version, leaving out versions that
// do not read as one.
func NodesByVersion(nodes map[string]string) map[string][]string {
	byVersion := map[string][]string{}
	for node, v := range nodes {
		if ValidVersion(v) {
			byVersion[v] = append(byVersion[v], node)
		}
	}
	return byVersion
}

func checkVersions(constructs []fieldConstruct, byVersion map[string][]string) field.ErrorList {
	var errs field.ErrorList
	for _, c := range constructs {
		e := VersionError{Field: c.path.String(), Construct: c.String(), Line: c.line, Versions: map[string][]string{}}
		for v, ns := range byVersion {
			if l, ok := LimitFor(v, c.keyword, c.section, c.value, c.subsection); ok {
				e.Limit = l
				e.Versions[v] = slices.Sorted(slices.Values(ns))
			}
		}
		if len(e.Versions) > 0 {
			errs = append(errs, field.Forbidden(c.path, e.Detail()))
		}
	}
	return errs
}
