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

// Command probe prints what a process in a mountns.View sees, for the package's tests: built
// static and copied into a fake root, it needs nothing else there.
package main

import (
	"fmt"
	"os"
	"sort"
)

func main() {
	for _, dir := range []string{"/etc/multipath", "/run"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			fmt.Printf("%s: %v\n", dir, err)
			continue
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		fmt.Printf("%s: %v\n", dir, names)
	}
	for _, f := range []string{"/etc/multipath.conf", "/etc/other.conf"} {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Printf("%s: %v\n", f, err)
			continue
		}
		fmt.Printf("%s: %q\n", f, b)
	}
	// Writes land in the namespace's private layers, never in the root seen from outside.
	if err := os.WriteFile("/etc/multipath/written-inside", []byte("x"), 0o644); err != nil {
		fmt.Println("write:", err)
	}
	if err := os.WriteFile("/run/written-inside", []byte("x"), 0o644); err != nil {
		fmt.Println("write run:", err)
	}
}
