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

package multipathd_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
)

func TestValidateCommand(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string // "" means refused
	}{
		"show maps json is allowed":                   {args: []string{"show", "maps", "json"}, want: "show maps json"},
		"show paths is allowed":                       {args: []string{"show", "paths"}, want: "show paths"},
		"show config is allowed":                      {args: []string{"show", "config"}, want: "show config"},
		"reconfigure is allowed":                      {args: []string{"reconfigure"}, want: "reconfigure"},
		"show version is allowed":                     {args: []string{"show", "version"}, want: "show version"},
		"show status is allowed":                      {args: []string{"show", "status"}, want: "show status"},
		"reconfigure all is refused":                  {args: []string{"reconfigure", "all"}},
		"no argument is refused":                      {args: nil},
		"an empty argument is refused":                {args: []string{"show", "", "paths"}},
		"a whole command in one argument is refused":  {args: []string{"show maps json"}},
		"the list synonym is refused":                 {args: []string{"list", "maps", "json"}},
		"a prefix multipathd would accept is refused": {args: []string{"show", "map", "json"}},
		"upper case is refused":                       {args: []string{"SHOW", "paths"}},
		"a trailing argument is refused":              {args: []string{"show", "paths", "format"}},
		"a map name argument is refused":              {args: []string{"show", "map", "mpatha", "json"}},
		"a NUL is refused":                            {args: []string{"show", "paths\x00del"}},
		"a quote is refused":                          {args: []string{"show", "\"paths\""}},
		"a newline is refused":                        {args: []string{"show", "paths\nreconfigure"}},
		"a state-changing command is refused":         {args: []string{"del", "maps"}},
		"shutdown is refused":                         {args: []string{"shutdown"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := multipathd.ValidateCommand(tc.args...)
			if tc.want == "" {
				if !errors.Is(err, multipathd.ErrNotAllowed) || got != "" {
					t.Fatalf("ValidateCommand(%q) = %q, %v; want ErrNotAllowed", tc.args, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ValidateCommand(%q) = %q, %v; want %q", tc.args, got, err, tc.want)
			}
		})
	}
}

func TestAllowedCommandsRoundTrip(t *testing.T) {
	for _, c := range multipathd.AllowedCommands() {
		if got, err := multipathd.ValidateCommand(strings.Fields(c)...); err != nil || got != c {
			t.Errorf("ValidateCommand(%q) = %q, %v", c, got, err)
		}
	}
	if !multipathd.NeedsRoot(multipathd.CmdReconfigure) || multipathd.NeedsRoot(multipathd.CmdShowMapsJSON) {
		t.Errorf("NeedsRoot: reconfigure needs uid 0, show does not")
	}
}
