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
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

func TestParsePathsFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/show-paths-raw-DERIVED-from-opensvc-issue62-orphan-paths.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := multipathd.ParsePaths(b)
	want := []multipathd.PathInfo{
		{WWID: "2c6f914c06154a5c56c9ce90022851301", Dev: "sdd", HCIL: "8:0:0:1", Size: "100G", Vendor: "Nimble", Product: "Server"},
		{WWID: "2c6f914c06154a5c56c9ce90022851301", Dev: "sdc", HCIL: "7:0:0:1", Size: "100G", Vendor: "Nimble", Product: "Server"},
		{WWID: "3600508b400105e210000900000490000", Dev: "sda", HCIL: "0:0:0:1", Size: "1.0T", Map: "mpatha", Vendor: "HP", Product: "HSV210", Revision: "6000"},
		{WWID: "3600508b400105e210000900000490000", Dev: "sdb", HCIL: "1:0:0:1", Size: "1.0T", Map: "mpatha", Vendor: "HP", Product: "HSV210", Revision: "6000"},
		{WWID: "36000c29f2d8e4a1b9c0e3b5d7f6a8c91", Dev: "sde", HCIL: "2:0:0:0", Size: "16G", Map: "36000c29f2d8e4a1b9c0e3b5d7f6a8c91", Vendor: "VMware", Product: "Virtual disk", Revision: "2.0"},
		{Dev: "sdf", HCIL: "3:0:0:0", Size: "0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePaths:\n got %+v\nwant %+v", got, want)
	}
}

func TestParsePathsEmptyAndGarbage(t *testing.T) {
	for _, in := range []string{"", "\n", "uuid dev dm_st\n", "a|b|c\n"} {
		if got := multipathd.ParsePaths([]byte(in)); len(got) != 0 {
			t.Errorf("ParsePaths(%q) = %+v, want none", in, got)
		}
	}
}

func TestShowPathsRawIsNotACommandArgument(t *testing.T) {
	// The format is allow-listed for ShowPaths only: Command takes keywords.
	if _, err := multipathd.ValidateCommand(strings.Fields(multipathd.CmdShowPathsRaw)...); !errors.Is(err, multipathd.ErrNotAllowed) {
		t.Errorf("ValidateCommand(%q) = %v, want ErrNotAllowed", multipathd.CmdShowPathsRaw, err)
	}
	if strings.ContainsAny(multipathd.CmdShowPathsRaw[len("show paths raw format "):], " \t\"") {
		t.Errorf("the format must be one word: %q", multipathd.CmdShowPathsRaw)
	}
}

func TestShowPathsOverTheSocket(t *testing.T) {
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	d.SetReply(multipathd.CmdShowPathsRaw, multipathdtest.Reply{Body: "36001|sdb|1:0:0:1|10G|[orphan]|LIO-ORG,disk0,4.0\n"})
	c := &multipathd.SocketClient{Address: d.Address()}
	got, err := multipathd.ShowPaths(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []multipathd.PathInfo{{WWID: "36001", Dev: "sdb", HCIL: "1:0:0:1", Size: "10G", Vendor: "LIO-ORG", Product: "disk0", Revision: "4.0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ShowPaths = %+v, want %+v", got, want)
	}
	if d.Received(multipathd.CmdShowPathsRaw).IsZero() {
		t.Errorf("the daemon did not receive %q; it received %q", multipathd.CmdShowPathsRaw, d.Commands())
	}

	// A daemon that does not know the command (help text) is an error, not "no paths".
	d.SetReply(multipathd.CmdShowPathsRaw, multipathdtest.Reply{Body: multipathdtest.HelpText(multipathd.CmdShowPathsRaw, "0.9.4")})
	if _, err := multipathd.ShowPaths(context.Background(), c); !errors.Is(err, multipathd.ErrUnknownCommandReply) {
		t.Errorf("ShowPaths on help text: err = %v, want ErrUnknownCommandReply", err)
	}

	type plain struct{ multipathd.Client }
	if _, err := multipathd.ShowPaths(context.Background(), plain{c}); !errors.Is(err, multipathd.ErrPathsUnsupported) {
		t.Errorf("ShowPaths through a Client without ShowPathsRaw: err = %v, want ErrPathsUnsupported", err)
	}
}
