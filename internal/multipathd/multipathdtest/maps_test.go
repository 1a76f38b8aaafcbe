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
	"testing"

	"github.com/kube-multipath/kube-multipath/internal/multipathd"
	"github.com/kube-multipath/kube-multipath/internal/multipathd/multipathdtest"
)

// The generated reply reads back through the real parser as the maps it describes.
func TestMapsJSONParses(t *testing.T) {
	degraded := multipathdtest.HealthyMap("3600a098038303053453f463045727a4d", "oradata01", 4)
	degraded.Paths[1].Failed = true
	maps, err := multipathd.ParseMapsJSON([]byte(multipathdtest.MapsJSON([]multipathdtest.Map{
		degraded, multipathdtest.HealthyMap("36001405e3c2841f4b9c4e6b9d1c0a7b2", "", 0),
	})))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 {
		t.Fatalf("got %d maps, want 2", len(maps))
	}
	m := maps[0]
	if m.UUID != "3600a098038303053453f463045727a4d" || m.Name != "oradata01" || m.UsablePaths != 3 || m.Malformed {
		t.Errorf("first map read back as %+v", m)
	}
	var failed int
	for _, g := range m.PathGroups {
		for _, p := range g.Paths {
			if p.DMState == "failed" && p.CheckerState == "faulty" {
				failed++
			}
		}
	}
	if failed != 1 {
		t.Errorf("got %d failed paths, want 1", failed)
	}
	if maps[1].UsablePaths != 0 || maps[1].Malformed {
		t.Errorf("map without paths read back as %+v", maps[1])
	}
}
