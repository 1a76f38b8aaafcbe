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

package multipathd

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotAllowed marks a command that is not on the allow-list. It never reaches the daemon.
var ErrNotAllowed = errors.New("command not allowed")

// Allow-listed commands, each in the one spelling the client sends. multipathd accepts
// synonyms ("list" for "show") and unambiguous prefixes; the allow-list does not, so that one
// command has one spelling in logs, metrics and tests.
const (
	CmdShowMapsJSON = "show maps json"
	CmdShowPaths    = "show paths"
	CmdShowConfig   = "show config"
	CmdReconfigure  = "reconfigure"
	CmdShowVersion  = "show version"
	CmdShowStatus   = "show status"
	CmdShowDaemon   = "show daemon"
)

// allowed maps each allow-listed command to whether it needs uid 0 in multipathd 0.9.4 (all
// but show/list do). "reconfigure all" is deliberately absent: it rebuilds every map, and the
// agent only ever asks for a plain reconfigure.
var allowed = map[string]bool{
	CmdShowMapsJSON: false,
	CmdShowPaths:    false,
	CmdShowConfig:   false,
	CmdReconfigure:  true,
	CmdShowVersion:  false,
	CmdShowStatus:   false,
	CmdShowDaemon:   false,
	// Sent only by ShowPaths (its format is not keywords, so Command refuses it).
	CmdShowPathsRaw: false,
}

// AllowedCommands returns the allow-listed commands, sorted.
func AllowedCommands() []string {
	return []string{CmdReconfigure, CmdShowConfig, CmdShowDaemon, CmdShowMapsJSON, CmdShowPaths, CmdShowStatus, CmdShowVersion}
}

// ClientCommands returns every command line this package's clients ever send: the
// allow-listed keywords of AllowedCommands, and the fixed path listing ShowPaths sends
// (CmdShowPathsRaw), which Command refuses since its format is not keywords.
func ClientCommands() []string { return append(AllowedCommands(), CmdShowPathsRaw) }

// NeedsRoot reports whether multipathd requires uid 0 for the allow-listed command.
func NeedsRoot(command string) bool { return allowed[command] }

// ValidateCommand joins args into the command line sent to the daemon and checks it against
// the allow-list. Every argument must be one lower-case keyword (letters only): no spaces,
// quotes, NULs or other bytes that could change how the daemon splits the line. The result is
// one of the Cmd constants; anything else wraps ErrNotAllowed.
func ValidateCommand(args ...string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("%w: empty command", ErrNotAllowed)
	}
	for i, a := range args {
		if !isKeyword(a) {
			return "", fmt.Errorf("%w: argument %d (%q) is not a lower-case keyword", ErrNotAllowed, i, a)
		}
	}
	cmd := strings.Join(args, " ")
	if _, ok := allowed[cmd]; !ok {
		return "", fmt.Errorf("%w: %q is not one of %s", ErrNotAllowed, cmd, strings.Join(AllowedCommands(), ", "))
	}
	return cmd, nil
}

func isKeyword(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
