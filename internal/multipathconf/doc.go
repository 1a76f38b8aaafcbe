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

// Package multipathconf holds every rule about multipathd's configuration: which keywords
// multipath-tools 0.9.4 accepts where, how API values become multipath.conf values, how they
// are quoted, which objects conflict, how the desired state is rendered and packed into a
// ConfigMap, and what an admin's free-form overrides may contain. The render controller, the
// webhook, the agent and the CLI all call it; it has no Kubernetes client.
//
// # One keyword table
//
// keywords.go lists every keyword of multipath-tools 0.9.4 with the sections that accept it
// (taken from the 0.9.4 parser itself, and re-checked against it by a test), whether
// spec.overrides may use it, and, for the keywords the API types, the JSON field, the value shape
// (enum, range, int-or-keyword union, pattern) and an accessor. The validator, the renderer and
// the overrides checker read only this table. A test fails when the table and the CRDs in
// config/crd/bases drift apart.
//
// # Files and their order
//
// A rendered config is three files:
//
//   - 90-kube-multipath-overrides.conf: spec.overrides, verbatim, only when it is not empty;
//   - 99-kube-multipath.conf: the managed baseline, `defaults { <typed knobs> }` (only when a
//     knob is set), `blacklist_exceptions { wwid "^<WWID, dots escaped>$" }` and
//     `multipaths { multipath { wwid alias <knobs> } }`, one entry per LUN sorted by WWID;
//   - wwids: the allow-listed WWIDs, one per line, sorted; the agent reconciles its own entries
//     of /etc/multipath/wwids to it. It is not a multipath.conf file.
//
// The baseline changes nothing host-wide: user_friendly_names and find_multipaths stay the
// host's. Each managed map is named in its own multipath subsection, by its alias or, without
// one, by its WWID written as the alias (MapName): multipath-tools takes a multipath
// subsection's alias before it looks at user_friendly_names (propsel.c select_alias), so the
// name is the same on every node whatever the host's defaults, and maps the operator does not
// manage keep the names the host gives them. A map name is at most 127 bytes (the kernel's
// DM_NAME_LEN): a WWID longer than that needs an alias. Managed WWIDs are allow-listed through
// /etc/multipath/wwids (which find_multipaths yes, strict and smart consult), and excepted from
// any host wwid blacklist by an anchored blacklist_exceptions pattern each (blacklist.c
// filter_wwid tries exceptions first). Rendered.Names holds the WWID -> map name mapping the
// agent checks after a reconfigure; Unpack reads it back from the baseline.
//
// multipathd reads /etc/multipath.conf, then /etc/multipath/conf.d/*.conf in alphabetical order;
// a defaults keyword read later overrides the same keyword read earlier, and blacklist,
// blacklist_exceptions and multipaths entries of every file add up. The overrides sort before
// the baseline, so the baseline's typed defaults win over the overrides. Each file has its own
// defaults section, which multipathd accepts: it refuses a repeated section only within one file.
//
// Nothing is rendered (Rendered.Empty) when there is no LUN, no typed knob and no overrides.
// The hash covers file names and contents; its first 16 hex digits name the immutable ConfigMap
// multipath-rendered-<hash>. Pack stores the files plain up to 256 KiB, gzip-compressed above
// (leaving out the WWIDs file, which Unpack derives from the baseline and the hash proves
// identical): 50,000 LUNs pack to under 400 KB.
//
// # Quoting
//
// Every rendered value is double-quoted with `"` doubled, the only escape multipath-tools knows
// (a backslash is an ordinary character). Inside quotes `#`, `!`, braces and blanks are
// ordinary, so no value can start a comment, a keyword or a section. What quoting cannot carry is
// refused at validation and never rendered: control characters (a newline or carriage return
// would end the line, NUL the string), invalid UTF-8, and values too long for multipathd's
// 1023-byte line buffer.
//
// # Validation beyond the CRDs
//
// Validate* mirror the CRDs' rules and messages, with full field paths, plus what multipathd
// needs and a CRD cannot state: the quoting limits above, label selector syntax, and the ranges
// multipath-tools 0.9.4 really accepts where they are narrower than the CRD's (verbosity at most
// 4, uxsock_timeout at least 4000: outside them multipathd caps the value and logs an error).
//
// # The overrides check
//
// CheckOverrides parses the text as multipath-tools 0.9.4 does (a comment starts with # or !
// outside quotes; "" inside quotes is a quote) and refuses, with the line and the rule, anything
// multipathd would log an error for, and anything that breaks kube-multipath's invariants:
// managed keywords in any section (wwids_file, bindings_file, prkeys_file, config_dir,
// multipath_dir), the host-wide naming and detection keywords user_friendly_names and
// find_multipaths (each host keeps its own: set cluster-wide they would rename maps the
// operator does not manage), deprecated keywords, a multipaths
// section, and a blacklist wwid pattern matching an allow-listed WWID.
//
// Deprecated device-mapper features (queue_if_no_path, retain_attached_hw_handler) and a device
// subsection repeated within the file are refused too: multipathd logs an error for them (found
// by fuzzing against the real parser). Note that an overrides section in spec.overrides outranks
// spec.defaults for every device (multipathd's precedence is multipath > overrides > devices >
// defaults): that is what it is for.
//
// A defaults section is allowed in the overrides, but only with keywords the API does not type
// (uid_attrs, enable_foreign, max_fds, ...). A typed keyword there would give the same setting
// two sources of truth, one validated and one not, and which one wins would depend on whether
// spec.defaults happens to set it too (the baseline is read last). Refusing the whole section
// instead would leave the untyped defaults unreachable.
//
// Regular expressions are compiled with Go's POSIX syntax, close to glibc's ERE: what compiles
// here compiles in multipathd (Go refuses a few patterns glibc would take, never the reverse).
// Only the wwid blacklist criterion can be checked against the allow-list; devnode, device,
// property and protocol criteria depend on each node's devices.
//
// # Conflicts
//
// ResolveConflicts keeps, for each WWID and alias (compared ignoring case, an alias also against
// other LUNs' WWIDs), the oldest MultipathWWID (creationTimestamp, then name); objects being
// deleted still hold their names. Losers get mpv1alpha1.DuplicateWWIDReason or
// DuplicateAliasReason and a message naming the winner.
package multipathconf
