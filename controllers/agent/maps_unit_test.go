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

package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// countingDaemon is the real socket client, counting the decoded reads and the hashed ones.
type countingDaemon struct {
	*multipathd.SocketClient
	whole, sums int
}

func (d *countingDaemon) DecodeMapsJSON(ctx context.Context, each func(multipathd.Map) error) ([sha256.Size]byte, error) {
	d.whole++
	return d.SocketClient.DecodeMapsJSON(ctx, each)
}

func (d *countingDaemon) ShowMapsJSON(context.Context) ([]byte, error) {
	return nil, errors.New("the reply is decoded as it arrives, not read whole")
}

func (d *countingDaemon) ShowMapsJSONSum(ctx context.Context) ([sha256.Size]byte, error) {
	d.sums++
	return d.SocketClient.ShowMapsJSONSum(ctx)
}

// mapsJSON is "show maps json" of n maps of two paths, the first with a failed path when
// failed.
func mapsJSON(n int, failed bool) string {
	var b strings.Builder
	b.WriteString(`{"major_version": 0, "minor_version": 1, "maps": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		st := "active"
		if failed && i == 0 {
			st = "failed"
		}
		fmt.Fprintf(&b, `{"name": "mpath%d", "uuid": "3600a098038303053453f4630457%05d", "sysfs": "dm-%d", "paths": 2, "dm_st": "active",
 "path_groups": [{"selector": "service-time 0", "pri": 50, "dm_st": "active", "group": 1, "paths": [
 {"dev": "sda%d", "dev_t": "8:%d", "dm_st": "%s", "dev_st": "running", "chk_st": "ready", "checker": "tur", "pri": 50},
 {"dev": "sdb%d", "dev_t": "65:%d", "dm_st": "active", "dev_st": "running", "chk_st": "ready", "checker": "tur", "pri": 50}]}]}`, i, i, i, i, i, st, i, i)
	}
	b.WriteString("]}")
	return b.String()
}

// While the reply does not change, a pass reads only its hash; a changed reply, or a failure,
// is decoded as it arrives (never through ShowMapsJSON, which holds it whole) and reported.
func TestMapsAreReadWholeOnlyWhenTheReplyChanged(t *testing.T) {
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	daemon := &countingDaemon{SocketClient: &multipathd.SocketClient{Address: d.Address(), Timeout: 5 * time.Second}}
	r := &Reconciler{Daemon: daemon}
	pass := func(wantWhole, wantSums int) *scope {
		t.Helper()
		s := &scope{state: &mpv1alpha1.MultipathNodeState{}}
		if _, err := r.reconcileMaps(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if daemon.whole != wantWhole || daemon.sums != wantSums {
			t.Fatalf("whole reads %d, hashed %d; want %d, %d", daemon.whole, daemon.sums, wantWhole, wantSums)
		}
		return s
	}
	// 2,000 maps: a reply well over the 64 KiB SumFrame holds whole.
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(2000, false)})
	if s := pass(1, 0); s.maps == nil || s.maps.mapCount != 2000 || s.maps.maps[0].State != mpv1alpha1.MapOptimal {
		t.Fatalf("first pass: %+v", s.daemonErr)
	}
	pass(1, 1)
	pass(1, 2)
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(2000, true)})
	if s := pass(2, 3); s.maps.maps[0].State == mpv1alpha1.MapOptimal {
		t.Fatalf("the failed path is not reported: %+v", s.maps.maps[0])
	}
	if s := pass(2, 4); s.maps.maps[0].State == mpv1alpha1.MapOptimal {
		t.Fatalf("the unchanged reply lost the failed path: %+v", s.maps.maps[0])
	}
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: "fail\n"})
	if s := pass(3, 5); s.daemonErr == nil || s.maps != nil {
		t.Fatalf("a fail reply: daemonErr %v, maps %v", s.daemonErr, s.maps)
	}
	// After a failure the next reply is read whole (nothing to compare with).
	d.SetReply(multipathd.CmdShowMapsJSON, multipathdtest.Reply{Body: mapsJSON(2000, true)})
	pass(4, 5)
	pass(4, 6)
}
