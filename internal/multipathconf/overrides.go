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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// LineError is one reason a multipath.conf text is refused, at a 1-based line (0: the whole text).
type LineError struct {
	Line    int
	Message string
}

// Error reads "line 7: keyword ...".
func (e LineError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Message
}

// CheckOverrides returns, in line order, every reason text cannot be used as
// MultipathConfig spec.overrides; none means it is accepted. It refuses what multipath-tools
// 0.9.4 would log an error for (syntax, unknown or misplaced keywords, bad values, duplicates),
// and what would break kube-multipath's invariants: managed keywords anywhere, a multipaths
// section, a defaults keyword the API types, and a blacklist wwid pattern that matches one of
// the allow-listed WWIDs (unless a blacklist_exceptions wwid pattern matches it too).
func CheckOverrides(text string, allowListed []string) []LineError {
	if len(text) > MaxOverridesBytes {
		return []LineError{{Message: "overrides are " + strconv.Itoa(len(text)) + " bytes, more than the " +
			strconv.Itoa(MaxOverridesBytes) + " allowed"}}
	}
	root, errs := parseConf(text)
	c := checker{errs: errs}
	for _, b := range root.children {
		c.block(b)
	}
	c.blacklistedWWIDs(allowListed)
	slices.SortStableFunc(c.errs, func(a, b LineError) int { return a.Line - b.Line })
	return c.errs
}

// confEntry is one `keyword value` line, the value unquoted.
type confEntry struct {
	keyword string
	value   string
	line    int
}

// confBlock is a parsed (sub)section. The root block holds the top-level sections.
type confBlock struct {
	name     string
	rule     *blockRule // nil for a block the grammar does not know (already reported)
	line     int
	entries  []confEntry
	children []*confBlock
}

// blockRule is the grammar of one (sub)section: which keyword rows apply, which subsections
// it holds, which keywords a subsection must set.
type blockRule struct {
	name       string
	section    Section
	sub        map[string]*blockRule
	repeatable bool
	required   []string
	// whyRequired completes the message for a missing required keyword.
	whyRequired string
}

const (
	whyIgnoredWithout   = "multipathd ignores it otherwise"
	whyMalformedWithout = `multipath -t and multipathd show config print it without its braces otherwise; use ".*" to match any`
)

var rootRule = &blockRule{sub: map[string]*blockRule{
	"defaults": {name: "defaults", section: SectionDefaults},
	"blacklist": {name: "blacklist", section: SectionBlacklist, sub: map[string]*blockRule{
		"device": {name: "device", section: SectionBlacklistDevice, repeatable: true,
			required: []string{"vendor", "product"}, whyRequired: whyMalformedWithout}}},
	"blacklist_exceptions": {name: "blacklist_exceptions", section: SectionBlacklistExceptions, sub: map[string]*blockRule{
		"device": {name: "device", section: SectionBlacklistExceptionsDevice, repeatable: true,
			required: []string{"vendor", "product"}, whyRequired: whyMalformedWithout}}},
	"devices": {name: "devices", sub: map[string]*blockRule{
		"device": {name: "device", section: SectionDevice, repeatable: true,
			required: []string{"vendor", "product"}, whyRequired: whyIgnoredWithout}}},
	"overrides": {name: "overrides", section: SectionOverrides, sub: map[string]*blockRule{
		"protocol": {name: "protocol", section: SectionOverridesProtocol, repeatable: true,
			required: []string{"type"}, whyRequired: whyIgnoredWithout}}},
	"multipaths": {name: "multipaths", sub: map[string]*blockRule{
		"multipath": {name: "multipath", section: SectionMultipath, repeatable: true,
			required: []string{"wwid"}, whyRequired: whyIgnoredWithout}}},
}}

// blockNames are the words that open a (sub)section somewhere.
var blockNames = map[string]bool{"defaults": true, "blacklist": true, "blacklist_exceptions": true,
	"devices": true, "device": true, "overrides": true, "protocol": true, "multipaths": true, "multipath": true}

type token struct {
	text   string
	quoted bool
}

func (t token) is(s string) bool { return !t.quoted && t.text == s }

// parseConf parses multipath.conf text the way multipath-tools 0.9.4 reads it, and reports what
// it would log an error for at the syntax level: unbalanced or misplaced braces, unknown or
// misplaced sections, missing or extra values, unterminated quotes, control characters, lines
// too long for its line buffer. Keywords and values are checked by the checker, not here.
func parseConf(text string) (*confBlock, []LineError) {
	root := &confBlock{rule: rootRule}
	stack := []*confBlock{root}
	var errs []LineError
	fail := func(line int, msg string) { errs = append(errs, LineError{Line: line, Message: msg}) }
	push := func(parent *confBlock, name string, rule *blockRule, line int) {
		b := &confBlock{name: name, rule: rule, line: line}
		parent.children = append(parent.children, b)
		stack = append(stack, b)
	}

	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		lineNo := i + 1
		if len(line) > MaxLineBytes {
			fail(lineNo, "line is "+strconv.Itoa(len(line))+" bytes, more than the "+strconv.Itoa(MaxLineBytes)+
				" multipathd reads at once")
			continue
		}
		toks, msg := tokenizeLine(line)
		if msg != "" {
			fail(lineNo, msg)
			// Keep a broken line only for its braces, so that one error does not cascade.
			if len(toks) == 0 || !toks[0].is("}") && !(len(toks) > 1 && toks[1].is("{")) {
				continue
			}
		}
		if len(toks) == 0 {
			continue
		}
		top := stack[len(stack)-1]
		switch first := toks[0]; {
		case first.is("}"):
			if len(stack) == 1 {
				fail(lineNo, "unbalanced braces: this '}' closes no section")
				continue
			}
			if len(toks) > 1 {
				fail(lineNo, "'}' must be alone on its line")
			}
			stack = stack[:len(stack)-1]
		case first.is("{"):
			fail(lineNo, "'{' must follow a section name on the same line")
			push(top, "", nil, lineNo)
		case first.quoted:
			fail(lineNo, "a line must start with a keyword, not a quoted string")
		default:
			parseStatement(top, toks, lineNo, fail, push)
		}
	}
	for _, b := range stack[1:] {
		name := b.name
		if name == "" {
			name = "{"
		}
		fail(b.line, "unbalanced braces: "+strconv.Quote(name)+" opened here is never closed")
	}
	return root, errs
}

// parseStatement handles a line that starts with a word: a section opener or `keyword value`.
func parseStatement(top *confBlock, toks []token, lineNo int, fail func(int, string),
	push func(*confBlock, string, *blockRule, int)) {
	word := toks[0].text
	opens := len(toks) > 1 && toks[1].is("{")
	var sub *blockRule
	if top.rule != nil {
		sub = top.rule.sub[word]
	}
	switch {
	case sub != nil:
		if !opens {
			fail(lineNo, "expected '{' after "+strconv.Quote(word)+" on the same line")
			return
		}
		if len(toks) > 2 {
			fail(lineNo, "nothing may follow '{' on the line")
		}
		if !sub.repeatable && slices.ContainsFunc(top.children, func(c *confBlock) bool { return c.rule == sub }) {
			fail(lineNo, "section "+strconv.Quote(word)+" appears twice: multipathd accepts it once per file, merge them")
		}
		push(top, word, sub, lineNo)
	case top.rule == nil:
		// Inside a block already reported: keep the braces balanced, say nothing more.
		if opens {
			push(top, word, nil, lineNo)
		}
	case blockNames[word] && opens:
		where := "at the top level"
		if top.name != "" {
			where = "inside " + strconv.Quote(top.name)
		}
		fail(lineNo, "section "+strconv.Quote(word)+" is not allowed "+where)
		push(top, word, nil, lineNo)
	case top.name == "":
		fail(lineNo, "unknown section "+strconv.Quote(word)+
			": expected defaults, blacklist, blacklist_exceptions, devices, overrides or multipaths")
		if opens {
			push(top, word, nil, lineNo)
		}
	case len(toks) == 1:
		fail(lineNo, "keyword "+strconv.Quote(word)+" has no value")
	case opens:
		fail(lineNo, strconv.Quote(word)+" does not open a section in "+strconv.Quote(top.name))
		push(top, word, nil, lineNo)
	case toks[1].is("}"):
		fail(lineNo, "'}' must be alone on its line")
	case len(toks) > 2:
		fail(lineNo, "keyword "+strconv.Quote(word)+" takes one value: quote a value that contains blanks")
	default:
		top.entries = append(top.entries, confEntry{keyword: word, value: toks[1].text, line: lineNo})
	}
}

// tokenizeLine splits one line into words, braces and quoted strings, the way multipath-tools
// 0.9.4 does: blanks separate, `#` and `!` outside quotes start a comment, `""` inside quotes is
// a literal quote. It refuses what multipathd would misread: control characters, bytes that are
// not ASCII outside quotes (multipathd takes them for blanks), invalid UTF-8, an open quote.
func tokenizeLine(line string) ([]token, string) {
	var toks []token
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#' || c == '!':
			return toks, checkComment(line[i:])
		case c == '{' || c == '}':
			toks = append(toks, token{text: line[i : i+1]})
			i++
		case c == '"':
			v, n, msg := readQuoted(line[i:])
			if msg != "" {
				return toks, msg
			}
			toks = append(toks, token{text: v, quoted: true})
			i += n
		case c < 0x20 || c == 0x7f:
			return toks, "control character " + strconv.QuoteRune(rune(c)) + " at byte " + strconv.Itoa(i) + " is not allowed"
		case c >= 0x80:
			return toks, "only ASCII is allowed outside quotes (multipathd reads other bytes as blanks)"
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t#!{}\"", rune(line[j])) && line[j] >= 0x20 && line[j] < 0x7f {
				j++
			}
			toks = append(toks, token{text: line[i:j]})
			i = j
		}
	}
	return toks, ""
}

// readQuoted reads a quoted string at the start of s and returns its value and the bytes read.
func readQuoted(s string) (string, int, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			if i+1 < len(s) && s[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			v := b.String()
			if !utf8.ValidString(v) {
				return "", 0, "quoted value must be valid UTF-8"
			}
			return v, i + 1, ""
		}
		if c < 0x20 || c == 0x7f {
			return "", 0, "quoted value " + controlMessage(s, i)
		}
		b.WriteByte(c)
	}
	return "", 0, "missing closing quote"
}

// checkComment refuses control characters and invalid UTF-8 in a comment: harmless to
// multipathd, but the text is stored and shown to people.
func checkComment(s string) string {
	if i := controlIndex(strings.ReplaceAll(s, "\t", " ")); i >= 0 {
		return "comment " + controlMessage(s, i)
	}
	if !utf8.ValidString(s) {
		return "comment must be valid UTF-8"
	}
	return ""
}

// checker applies kube-multipath's policy and the keyword table to a parsed text.
type checker struct {
	errs      []LineError
	blacklist []blacklistPattern // blacklist wwid patterns
	excepted  []blacklistPattern // blacklist_exceptions wwid patterns
}

type blacklistPattern struct {
	line   int
	text   string
	re     *regexp.Regexp
	invert bool
}

func (p *blacklistPattern) matches(wwid string) bool { return p.re.MatchString(wwid) != p.invert }

func (c *checker) fail(line int, msg string) {
	c.errs = append(c.errs, LineError{Line: line, Message: msg})
}

func (c *checker) block(b *confBlock) {
	if b.rule == nil {
		return
	}
	if b.rule.name == "multipaths" {
		c.fail(b.line, "the multipaths section is managed by kube-multipath: allow-list LUNs with MultipathWWID objects")
		return
	}
	section := b.rule.section
	if section == 0 && len(b.entries) > 0 {
		for name := range b.rule.sub {
			c.fail(b.entries[0].line, "the "+b.rule.name+" section holds only "+name+" subsections")
		}
	}
	inBlacklist := section&(inBlacklists|inBlDevices) != 0
	seen := map[string]int{}
	for _, e := range b.entries {
		if section == 0 {
			break
		}
		k := lookup(e.keyword, section)
		switch {
		case k == nil && known(e.keyword):
			c.fail(e.line, "keyword "+strconv.Quote(e.keyword)+" is not valid in the "+section.String()+
				" section (multipath-tools 0.9.4)")
			continue
		case k == nil:
			c.fail(e.line, "unknown keyword "+strconv.Quote(e.keyword)+" in the "+section.String()+" section")
			continue
		case k.Forbidden():
			c.fail(e.line, "keyword "+strconv.Quote(e.keyword)+" is "+k.Why)
			continue
		case section == SectionDefaults && typedByAPI(k):
			c.fail(e.line, "keyword "+strconv.Quote(e.keyword)+" is typed by the API: set spec.defaults."+
				apiField(k)+" instead of a defaults section in spec.overrides")
			continue
		}
		if prev, dup := seen[e.keyword]; dup && !k.Repeatable {
			c.fail(e.line, "keyword "+strconv.Quote(e.keyword)+" is already set on line "+strconv.Itoa(prev)+
				" of this section (multipathd logs a duplicate)")
		} else if !dup {
			seen[e.keyword] = e.line
		}
		value := e.value
		invert := false
		if inBlacklist && k.Value.Kind == KindRegex && strings.HasPrefix(value, "!") {
			value, invert = value[1:], true // multipathd inverts a blacklist pattern that starts with !
		}
		if why := k.Value.checkText(value); why != "" {
			c.fail(e.line, "invalid value "+strconv.Quote(e.value)+" for "+e.keyword+": "+why)
			continue
		}
		if e.keyword == "wwid" && inBlacklist {
			p := blacklistPattern{line: e.line, text: e.value, re: regexp.MustCompilePOSIX(value), invert: invert}
			if section == SectionBlacklist {
				c.blacklist = append(c.blacklist, p)
			} else {
				c.excepted = append(c.excepted, p)
			}
		}
	}
	for _, r := range b.rule.required {
		if _, ok := seen[r]; !ok {
			c.fail(b.line, "a "+b.rule.name+" subsection needs a "+r+" ("+b.rule.whyRequired+")")
		}
	}
	if b.rule.name == "devices" {
		c.duplicateDevices(b)
	}
	for _, child := range b.children {
		c.block(child)
	}
}

// duplicateDevices refuses two device subsections of one devices section with the same vendor,
// product and revision: multipathd logs "duplicate device section" for them.
func (c *checker) duplicateDevices(devices *confBlock) {
	first := map[string]int{}
	for _, d := range devices.children {
		id := map[string]string{}
		for _, e := range d.entries {
			id[e.keyword] = e.value
		}
		vendor, hasVendor := id["vendor"]
		product, hasProduct := id["product"]
		revision, hasRevision := id["revision"]
		if !hasVendor || !hasProduct || d.rule == nil {
			continue // reported already
		}
		key := vendor + "\x00" + product + "\x00" + strconv.FormatBool(hasRevision) + revision
		if line, dup := first[key]; dup {
			c.fail(d.line, "this device subsection (vendor "+strconv.Quote(vendor)+", product "+strconv.Quote(product)+
				") repeats the one on line "+strconv.Itoa(line)+" (multipathd logs a duplicate): merge them")
			continue
		}
		first[key] = d.line
	}
}

// blacklistedWWIDs reports each blacklist wwid pattern that matches an allow-listed WWID no
// blacklist_exceptions wwid pattern saves. Other blacklist criteria (devnode, device, property,
// protocol) depend on the node's devices and cannot be checked here.
func (c *checker) blacklistedWWIDs(allowListed []string) {
	if len(c.blacklist) == 0 {
		return
	}
	hits := make([][]string, len(c.blacklist))
	for _, w := range allowListed {
		if slices.ContainsFunc(c.excepted, func(p blacklistPattern) bool { return p.matches(w) }) {
			continue
		}
		for i := range c.blacklist {
			if c.blacklist[i].matches(w) {
				hits[i] = append(hits[i], w)
			}
		}
	}
	for i, h := range hits {
		if len(h) == 0 {
			continue
		}
		msg := "blacklist wwid " + strconv.Quote(c.blacklist[i].text) + " matches the allow-listed WWID " + h[0]
		if len(h) > 1 {
			msg += " (and " + strconv.Itoa(len(h)-1) + " more)"
		}
		c.fail(c.blacklist[i].line, msg+": remove it, or add a blacklist_exceptions wwid")
	}
}

// typedByAPI reports whether the API types the keyword (or the keyword it is another spelling of).
func typedByAPI(k *Keyword) bool { return apiField(k) != "" }

func apiField(k *Keyword) string {
	if k.AliasOf != "" {
		if target := lookup(k.AliasOf, SectionDefaults); target != nil {
			return target.Field
		}
	}
	if k.Scope == ScopeLUN || k.Scope == ScopeDefaults {
		return k.Field
	}
	return ""
}
