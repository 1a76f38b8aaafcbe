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

package app

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/kube-multipath/kube-multipath/internal/hostfs"
)

func TestOptionsComeFromTheDownwardAPIAndFlags(t *testing.T) {
	t.Setenv("NODE_NAME", "worker-1")
	t.Setenv("POD_NAMESPACE", "storage")
	o := DefaultOptions()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--refresh-interval=5s", "--host-root=/rootfs"}); err != nil {
		t.Fatal(err)
	}
	if o.NodeName != "worker-1" || o.Namespace != "storage" || o.HostRoot != "/rootfs" || o.RefreshInterval != 5*time.Second {
		t.Errorf("options = %+v", o)
	}
	if err := o.validate(); err != nil {
		t.Error(err)
	}
	h := o.Host(nil)
	if v, ok := h.Validator.(*hostfs.ParserValidator); !ok || v.Root != "/rootfs" || h.Root != "/rootfs" {
		t.Errorf("host = %+v, validator %+v", h, h.Validator)
	}
}

func TestOptionsWithoutANodeAreRefused(t *testing.T) {
	t.Setenv("NODE_NAME", "")
	o := DefaultOptions()
	o.RefreshInterval = time.Millisecond
	err := o.validate()
	if err == nil || !strings.Contains(err.Error(), "--node-name") || !strings.Contains(err.Error(), "--refresh-interval") {
		t.Errorf("validate = %v", err)
	}
}
