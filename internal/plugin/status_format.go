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

package plugin

// The status report as text: the rollout line, the host conflicts, the colored matrix.

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// printStatus prints the report in the format asked for.
func printStatus(w io.Writer, r *StatusReport, format outputFormat, allNodes bool, t terminal) error {
	switch format {
	case outputJSON:
		return printJSON(w, r)
	case outputYAML:
		return printYAML(w, r)
	}
	_, err := io.WriteString(w, FormatStatus(r, StatusFormat{Wide: format == outputWide, AllNodes: allNodes, Color: t.color, Width: t.width}))
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// StatusFormat tunes FormatStatus.
type StatusFormat struct {
	// Wide adds each LUN's WWID (when it has an alias) and the operator's last roll-up.
	Wide bool
	// AllNodes gives every managed node a column.
	AllNodes bool
	// Color paints the states.
	Color bool
	// Width is the terminal's width: node columns that do not fit are left out (and counted).
	// 0 is unlimited. Ignored with Wide or AllNodes, which ask for every column.
	Width int
}

// maxListed bounds the lists printed beneath the matrix.
const maxListed = 10

// FormatStatus renders the report as text. It is pure.
func FormatStatus(r *StatusReport, f StatusFormat) string {
	var b strings.Builder
	switch {
	case r.ConfigMissing:
		b.WriteString("MultipathConfig cluster does not exist: no node is managed, and no LUN is expected anywhere.\n")
	case r.SelectorError != "":
		fmt.Fprintf(&b, "MultipathConfig cluster: %s; every node counts as managed.\n", r.SelectorError)
	}
	formatRollout(&b, r.Rollout, f.Color)
	if len(r.LUNs) == 0 {
		b.WriteString("No MultipathWWID: no LUN is allow-listed.\n")
	} else {
		formatMatrix(&b, r, f)
	}
	formatUntrusted(&b, r)
	formatNodeErrors(&b, r, f.Color)
	formatHostConflicts(&b, r.HostConflicts, f.Color)
	return b.String()
}

// formatRollout writes the rollout line (and the held teardown) above the matrix.
func formatRollout(b *strings.Builder, r *RolloutReport, color bool) {
	if r == nil {
		return
	}
	state := r.State
	if color {
		code := ""
		switch r.State {
		case RolloutComplete:
			code = sgrGreen
		case RolloutStopped:
			code = sgrRed
		case RolloutPaused, RolloutProgressing, RolloutTearDown, RolloutPending:
			code = sgrYellow
		}
		if code != "" {
			state = "\x1b[" + code + "m" + state + "\x1b[0m"
		}
	}
	msg := oneLine(r.Message)
	if msg == "" {
		msg = "the operator has not written the MultipathConfig's status"
	}
	fmt.Fprintf(b, "Rollout: %s: %s", state, msg)
	if r.Lagging {
		b.WriteString(" (the operator has not acted on the latest spec yet)")
	}
	b.WriteByte('\n')
	if r.TeardownHeld != "" {
		fmt.Fprintf(b, "Teardown held: %s\n", oneLine(r.TeardownHeld))
	}
	b.WriteByte('\n')
}

// formatHostConflicts lists each node's host configuration conflicts, the file and line first.
func formatHostConflicts(b *strings.Builder, nodes []NodeHostConflicts, color bool) {
	if len(nodes) == 0 {
		return
	}
	n := 0
	for _, hc := range nodes {
		n += len(hc.Conflicts)
	}
	fmt.Fprintf(b, "\nHost configuration conflicts (%d on %d %s; the operator does not override them):\n", n, len(nodes), plural(len(nodes), "node", "nodes"))
	rows := [][]styled{{{text: "NODE"}, {text: "TYPE"}, {text: "WWID"}, {text: "WHERE"}, {text: "MESSAGE"}}}
	listed := 0
	for _, hc := range nodes {
		for _, c := range hc.Conflicts {
			if listed == maxListed {
				break
			}
			listed++
			where := "-"
			if c.File != "" {
				where = fmt.Sprintf("%s:%d", c.File, c.Line)
			}
			// The agent's messages start with where they are: said once, in WHERE.
			msg := strings.TrimPrefix(oneLine(c.Message), where+" ")
			rows = append(rows, []styled{{text: hc.Node}, {text: string(c.Type), color: sgrYellow}, {text: dash(c.WWID)}, {text: where}, {text: msg}})
		}
	}
	writeTable(b, rows, color)
	if more := n - listed; more > 0 {
		fmt.Fprintf(b, "  ... and %d more (kubectl get multipathnodestate NODE -o yaml)\n", more)
	}
}

// Cell colours (SGR codes).
const (
	sgrRed     = "31"
	sgrGreen   = "32"
	sgrYellow  = "33"
	sgrMagenta = "35"
	sgrDim     = "2"
	sgrBold    = "1"
)

// stateStyle is how a state is written in a cell, and its colour.
func stateStyle(s mpv1alpha1.MapState) (string, string) {
	switch s {
	case mpv1alpha1.MapOptimal:
		return "ok", sgrGreen
	case mpv1alpha1.MapDegraded:
		return "DEG", sgrYellow
	case mpv1alpha1.MapFailed:
		return "FAIL", sgrRed
	case mpv1alpha1.MapMissing:
		return "miss", sgrMagenta
	default:
		return "?", sgrDim
	}
}

// cellText is a cell: "ok 4/4", "DEG 1/2", "FAIL 0/2", "miss", "?"; in parentheses for a node
// not expected to carry the LUN.
func cellText(c *Cell) (string, string) {
	word, color := stateStyle(c.State)
	text := word
	switch c.State {
	case mpv1alpha1.MapOptimal, mpv1alpha1.MapDegraded, mpv1alpha1.MapFailed:
		text = fmt.Sprintf("%s %d/%d", word, c.ActivePaths, c.TotalPaths)
	}
	if !c.Expected {
		return "(" + text + ")", sgrDim
	}
	return text, color
}

// healthText is a roll-up: its state and optimal/expected.
func healthText(h mpv1alpha1.LUNHealth) (string, string) {
	if h.State == "" {
		return "-", ""
	}
	_, color := stateStyle(h.State)
	return string(h.State), color
}

func formatMatrix(b *strings.Builder, r *StatusReport, f StatusFormat) {
	// Which nodes get a column: those where some expected LUN is not optimal, unless all asked.
	bad := map[string]bool{}
	for i := range r.LUNs {
		for _, c := range r.LUNs[i].Cells {
			if c.Expected && c.State != mpv1alpha1.MapOptimal {
				bad[c.Node] = true
			}
		}
	}
	var columns []string
	for _, n := range r.Nodes {
		if f.AllNodes || bad[n.Name] {
			columns = append(columns, n.Name)
		}
	}
	// Expected nodes that no Node describes are unknown: they get a column too.
	for name := range bad {
		if !slices.ContainsFunc(r.Nodes, func(n NodeReport) bool { return n.Name == name }) {
			columns = append(columns, name)
		}
	}
	slices.Sort(columns)
	columns = slices.Compact(columns)

	header := []styled{{text: "LUN"}}
	if f.Wide {
		header = append(header, styled{text: "WWID"})
	}
	header = append(header, styled{text: "PVS"}, styled{text: "HEALTH"}, styled{text: "NODES"})
	if f.Wide {
		header = append(header, styled{text: "OPERATOR"})
	}
	fixed := len(header)
	for _, c := range columns {
		header = append(header, styled{text: c})
	}
	rows := [][]styled{header}
	differs := 0
	for i := range r.LUNs {
		l := &r.LUNs[i]
		row := []styled{{text: l.label()}}
		if f.Wide {
			wwid := "-"
			if l.Alias != "" {
				wwid = l.WWID
			}
			row = append(row, styled{text: wwid})
		}
		state, color := healthText(l.Health)
		row = append(row, styled{text: fmt.Sprint(l.Consumers)}, styled{text: state, color: color}, styled{text: l.Health.Nodes})
		if f.Wide {
			rec := "-"
			if l.Recorded.State != "" {
				rec = string(l.Recorded.State) + " " + l.Recorded.Nodes
			}
			row = append(row, styled{text: rec})
		}
		if l.Recorded.State != l.Health.State || l.Recorded.Nodes != l.Health.Nodes {
			differs++
		}
		// Cells and columns are both sorted by node: one merge walk.
		k := 0
		for _, n := range columns {
			for k < len(l.Cells) && l.Cells[k].Node < n {
				k++
			}
			if k < len(l.Cells) && l.Cells[k].Node == n {
				text, color := cellText(&l.Cells[k])
				row = append(row, styled{text: text, color: color})
			} else {
				row = append(row, styled{text: "-", color: sgrDim})
			}
		}
		rows = append(rows, row)
	}

	shown := len(columns)
	if f.Width > 0 && !f.Wide && !f.AllNodes {
		shown = fitColumns(rows, fixed, f.Width)
		for i := range rows {
			rows[i] = rows[i][:fixed+shown]
		}
	}
	writeTable(b, rows, f.Color)

	hidden := 0
	for _, n := range r.Nodes {
		if _, found := slices.BinarySearch(columns, n.Name); !found {
			hidden++
		}
	}
	if cut := len(columns) - shown; cut > 0 {
		fmt.Fprintf(b, "+%d %s with a LUN not optimal not shown: the terminal is too narrow (-o wide shows every column).\n", cut, plural(cut, "node", "nodes"))
	}
	if hidden > 0 {
		fmt.Fprintf(b, "+%d %s not shown: every LUN expected there is optimal (--all-nodes shows %s).\n", hidden, plural(hidden, "node", "nodes"), plural(hidden, "it", "them"))
	}
	if differs > 0 && !f.Wide {
		fmt.Fprintf(b, "The operator's last roll-up differs for %d %s (-o wide shows it): it runs every refresh interval, or is not running.\n", differs, plural(differs, "LUN", "LUNs"))
	}
}

// fitColumns returns how many node columns, after the fixed ones, fit in width.
func fitColumns(rows [][]styled, fixed, width int) int {
	widths := columnWidths(rows)
	used := 0
	for i := range fixed {
		used += widths[i] + len(columnGap)
	}
	n := 0
	for i := fixed; i < len(widths) && used+widths[i] <= width; i++ {
		used += widths[i] + len(columnGap)
		n++
	}
	return n
}

func formatUntrusted(b *strings.Builder, r *StatusReport) {
	var untrusted []NodeReport
	for _, n := range r.Nodes {
		if !n.Trusted {
			untrusted = append(untrusted, n)
		}
	}
	if len(untrusted) == 0 {
		return
	}
	fmt.Fprintf(b, "\nNot trusted (%d %s; every LUN expected there is ?):\n", len(untrusted), plural(len(untrusted), "node", "nodes"))
	for i, n := range untrusted {
		if i == maxListed {
			fmt.Fprintf(b, "  ... and %d more\n", len(untrusted)-maxListed)
			break
		}
		fmt.Fprintf(b, "  %s: %s%s\n", n.Name, n.Reason, lastReportedText(n.LastReported))
	}
}

// lastReportedText is "; last reported archive failed 0/2, data01 degraded 1/2", at most three.
func lastReportedText(last []LastReported) string {
	if len(last) == 0 {
		return ""
	}
	const most = 3
	parts := make([]string, 0, min(len(last), most))
	for _, l := range last[:min(len(last), most)] {
		parts = append(parts, fmt.Sprintf("%s %s %d/%d", l.LUN, l.State, l.ActivePaths, l.TotalPaths))
	}
	text := "; last reported " + strings.Join(parts, ", ")
	if more := len(last) - most; more > 0 {
		text += fmt.Sprintf(" and %d more not optimal", more)
	}
	return text
}

func formatNodeErrors(b *strings.Builder, r *StatusReport, color bool) {
	if len(r.NodeErrors) == 0 {
		return
	}
	fmt.Fprintf(b, "\nApply errors (%d %s, newest first):\n", r.NodeErrorCount, plural(r.NodeErrorCount, "node", "nodes"))
	rows := [][]styled{{{text: "NODE"}, {text: "SINCE"}, {text: "ERROR"}}}
	for i, e := range r.NodeErrors {
		if i == maxListed {
			break
		}
		since := "-"
		if !e.LastTransitionTime.IsZero() {
			since = duration.HumanDuration(r.Time.Sub(e.LastTransitionTime.Time))
		}
		rows = append(rows, []styled{{text: e.Node}, {text: since}, {text: oneLine(e.Message), color: sgrRed}})
	}
	writeTable(b, rows, color)
	if more := r.NodeErrorCount - min(len(r.NodeErrors), maxListed); more > 0 {
		fmt.Fprintf(b, "  ... and %d more (kubectl get mpconfig cluster -o yaml)\n", more)
	}
}

// styled is a table cell with its colour.
type styled struct {
	text  string
	color string
}

const columnGap = "   "

func columnWidths(rows [][]styled) []int {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	return widths
}

// writeTable writes rows in aligned columns, kubectl-style (three spaces apart, the header in
// upper case as given), painting cells only when color is set. Widths count the text, never
// the escape codes, so colour does not break the alignment.
func writeTable(b *strings.Builder, rows [][]styled, color bool) {
	widths := columnWidths(rows)
	for r, row := range rows {
		var line strings.Builder
		for i, c := range row {
			text := c.text
			code := c.color
			if r == 0 {
				code = sgrBold
			}
			if color && code != "" {
				text = "\x1b[" + code + "m" + text + "\x1b[0m"
			}
			line.WriteString(text)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)))
				line.WriteString(columnGap)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
