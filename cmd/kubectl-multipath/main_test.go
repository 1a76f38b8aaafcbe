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

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/plugin"
)

func TestRunExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-kubeconfig")
	tests := map[string]struct {
		args    []string
		code    int
		wantErr string
	}{
		"help succeeds":                {args: []string{"--help"}, code: 0},
		"a bad flag value is an error": {args: []string{"status", "--fail-on", "sometimes"}, code: 1, wantErr: `error: --fail-on "sometimes" is not a level`},
		"an unreadable cluster is exit 1, never the threshold's 2": {args: []string{"status", "--fail-on", "degraded", "--kubeconfig", missing}, code: 1, wantErr: "error: "},
		// diff's codes are diff(1)'s: trouble is 2, so a script never reads it as "changes" (1).
		"diff: an unknown flag is trouble, 2":       {args: []string{"diff", "--bogus"}, code: 2, wantErr: "error: unknown flag: --bogus"},
		"diff: an unreadable cluster is trouble, 2": {args: []string{"diff", "--kubeconfig", missing}, code: 2, wantErr: "error: "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), tc.args, plugin.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr %q, want %q", errOut.String(), tc.wantErr)
			}
		})
	}
}
