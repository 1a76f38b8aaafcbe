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

package mptest

import (
	"cmp"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestParseOutput(t *testing.T) {
	tests := map[string]struct {
		out        string
		defaults   Values
		overrides  Values
		multipaths map[string]Values
		devices    []Values
		wantErr    string
	}{
		"quoted and unquoted values, doubled quotes, comments": {
			out: "defaults {\n\tverbosity 2\n\tprio_args \"a \"\"b\"\" #x !y\"\n\tuid_attrs sd:ID_SERIAL nvme:ID_WWN\n}\n" +
				"overrides {\n\tno_path_retry \"fail\"\n\tprotocol {\n\t\ttype \"scsi:fcp\"\n\t}\n\tdev_loss_tmo 7\n}\n" +
				"devices {\n\tdevice {\n\t\tvendor \"V\" # c\n\t\tproduct \"P\"\n\t}\n}\n" +
				"multipaths {\n\tmultipath {\n\t\twwid \"w1\"\n\t\talias \"a1\"\n\t\tprio_args \"{\"\n\t}\n}\n",
			defaults:   Values{"verbosity": {"2"}, "prio_args": {`a "b" #x !y`}, "uid_attrs": {"sd:ID_SERIAL nvme:ID_WWN"}},
			overrides:  Values{"no_path_retry": {"fail"}, "dev_loss_tmo": {"7"}},
			multipaths: map[string]Values{"w1": {"wwid": {"w1"}, "alias": {"a1"}, "prio_args": {"{"}}},
			devices:    []Values{{"vendor": {"V"}, "product": {"P"}}},
		},
		"an unterminated quote is an error": {
			out:     "defaults {\n\tprio_args \"a\n}\n",
			wantErr: "unterminated quote",
		},
		"an unbalanced brace is an error": {
			out:     "}\n",
			wantErr: "unbalanced",
		},
		"output that ends inside a section is an error": {
			out:     "defaults {\n",
			wantErr: "ends inside defaults",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseOutput(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Sections["defaults"], tc.defaults) {
				t.Errorf("defaults = %v, want %v", cfg.Sections["defaults"], tc.defaults)
			}
			if !reflect.DeepEqual(cfg.Sections["overrides"], tc.overrides) {
				t.Errorf("overrides = %v, want %v", cfg.Sections["overrides"], tc.overrides)
			}
			if !reflect.DeepEqual(cfg.Multipaths, tc.multipaths) {
				t.Errorf("multipaths = %v, want %v", cfg.Multipaths, tc.multipaths)
			}
			if !reflect.DeepEqual(cfg.Subsections["devices/device"], tc.devices) {
				t.Errorf("devices = %v, want %v", cfg.Subsections["devices/device"], tc.devices)
			}
		})
	}
}

// TestParseRunsTheRealParser runs every version of the matrix: each reads the files, quotes
// and all, and is the version it claims to be.
func TestParseRunsTheRealParser(t *testing.T) {
	ForEach(t, func(t *testing.T, p *Parser) {
		cfg := p.Parse(t, map[string]string{"a.conf": "defaults {\n\tverbosity \"3\"\n}\n" +
			"multipaths {\n\tmultipath {\n\t\twwid \"w1\"\n\t\talias \"x\"\"y\"\n\t}\n}\n"})
		if got := cfg.Sections["defaults"].Get("verbosity"); got != "3" {
			t.Errorf("verbosity = %q, want 3", got)
		}
		if got := cfg.Multipaths["w1"].Get("alias"); got != `x"y` {
			t.Errorf("alias = %q, want x\"y", got)
		}
		if p.Built() {
			if got, err := versionOf(p.bin, p.env()); err != nil || got != p.Version {
				t.Errorf("version = %q, %v; want %s", got, err, p.Version)
			}
		}
	})
}

// TestRunReportsComplaints: every version names the file, the line and the keyword (0.8.8 on
// also the section), whatever stamp it puts first.
func TestRunReportsComplaints(t *testing.T) {
	want := regexp.MustCompile(`^/etc/multipath/conf\.d/a\.conf line 2, invalid keyword( in the defaults section)?: bogus$`)
	ForEach(t, func(t *testing.T, p *Parser) {
		_, stderr, err := p.Run(map[string]string{"a.conf": "defaults {\n\tbogus 1\n}\n"})
		if err != nil {
			t.Fatal(err)
		}
		if len(stderr) != 1 || !want.MatchString(stderr[0]) {
			t.Errorf("stderr = %q, want one line matching %s", stderr, want)
		}
	})
}

func TestCompareVersions(t *testing.T) {
	sorted := []string{"0.8.4", "0.8.10", "0.9.4", "0.11.1", "0.14.3", "1.0"}
	for i := range sorted {
		for j := range sorted {
			if got, want := CompareVersions(sorted[i], sorted[j]), cmp.Compare(i, j); got != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

// TestMatrixIsEveryTarball: the matrix is the tarballs of hack/multipath-tools/src.
func TestMatrixIsEveryTarball(t *testing.T) {
	versions, err := Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0.8.4", "0.8.7", "0.8.8", "0.9.4", "0.9.7", "0.9.9", "0.11.1", "0.14.3"}; !reflect.DeepEqual(versions, want) {
		t.Errorf("Matrix() = %v, want %v", versions, want)
	}
}
