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

package multipathdtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

func TestReceivedTimesTheLastOfEachCommand(t *testing.T) {
	d, err := multipathdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Received(multipathd.CmdReconfigure).IsZero() {
		t.Fatal("a command never sent has a time")
	}
	c := &multipathd.SocketClient{Address: d.Address(), Timeout: 2 * time.Second}
	before := time.Now()
	if err := c.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := d.Received(multipathd.CmdReconfigure)
	if first.Before(before) || first.After(time.Now()) {
		t.Errorf("reconfigure received at %v, not during the call (from %v)", first, before)
	}
	time.Sleep(5 * time.Millisecond)
	if err := c.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := d.Received(multipathd.CmdReconfigure); !again.After(first) {
		t.Errorf("the second reconfigure did not move the time: %v, then %v", first, again)
	}
	if !d.Received(multipathd.CmdShowMapsJSON).IsZero() {
		t.Error("a command never sent has a time")
	}
}
