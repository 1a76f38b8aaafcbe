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

package sim

import (
	"os"
	"path/filepath"
	"testing"
)

// A failed run's folder keeps its logs, whatever their size, and small files; binaries and
// disk images go.
func TestKeepLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, size int) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("manager.log", 3<<20)
	write("kubeconfig", 2350)
	write("lun1.img", 2<<20)
	write("share/agent", 1<<20)
	write("qemu.cmdline", 100)
	if freed := KeepLogs(dir); freed != 3<<20 {
		t.Errorf("freed %d bytes, want %d", freed, 3<<20)
	}
	for rel, kept := range map[string]bool{"manager.log": true, "kubeconfig": true, "qemu.cmdline": true, "lun1.img": false, "share/agent": false} {
		_, err := os.Stat(filepath.Join(dir, rel))
		if got := err == nil; got != kept {
			t.Errorf("%s kept = %v, want %v (%v)", rel, got, kept, err)
		}
	}
}
