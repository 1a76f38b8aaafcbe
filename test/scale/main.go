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

// Command scale is the scale harness (`make scale`, and its short form in `make bench`): one
// local control plane, the real manager binary, and up to 1,000 simulated nodes in this process
// (test/sim), each with its own agent, client, rate limits, Node, tmpfs host root and fake
// multipathd. It measures propagation against the API floor, write amplification, the steady
// state cost per node, path-failure latency and memory, prints a table and writes JSON.
// docs/performance.md explains the figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func main() {
	cfg := defaultConfig()
	var nodes string
	flag.StringVar(&nodes, "nodes", "10,100,1000", "Cluster sizes to measure, in increasing order (nodes are added between steps).")
	flag.IntVar(&cfg.LUNs, "luns", cfg.LUNs, "MultipathWWIDs in the cluster (the first -burst of them are created as one burst).")
	flag.IntVar(&cfg.PVs, "pvs", cfg.PVs, "PersistentVolumes consuming the first -pvs LUNs.")
	flag.IntVar(&cfg.Burst, "burst", cfg.Burst, "MultipathWWIDs created at once for the write-amplification figure.")
	flag.IntVar(&cfg.HostGroups, "host-groups", cfg.HostGroups, "Array host groups: node k and LUN i are in group k%G and i%G; a node sees its group's LUNs.")
	flag.IntVar(&cfg.Paths, "paths", cfg.Paths, "Paths per map.")
	flag.DurationVar(&cfg.Steady, "steady", cfg.Steady, "How long the steady state is counted at each size.")
	flag.DurationVar(&cfg.Refresh, "refresh-interval", cfg.Refresh, "The agents' --refresh-interval (the Lease heartbeat period).")
	flag.StringVar(&cfg.Out, "out", cfg.Out, "Where the JSON results go.")
	flag.StringVar(&cfg.Dir, "dir", cfg.Dir, "Work folder (host roots, logs); default a fresh folder on tmpfs.")
	flag.StringVar(&cfg.ManagerArgs, "manager-args", cfg.ManagerArgs, "Extra flags for the manager, space-separated.")
	flag.IntVar(&cfg.MemoryNodes, "memory-nodes", 0, "Measure the manager's memory at this many nodes: those beyond the largest -nodes report as an agent would (status, Lease) but run none.")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "Profile the harness process (the simulated agents) during each apply into FILE-<nodes>, and during the path failure into FILE-<nodes>-pathfailure (go tool pprof FILE-100).")
	flag.StringVar(&cfg.Pprof, "manager-pprof", "", "Serve the manager's net/http/pprof on this address (go tool pprof http://ADDR/debug/pprof/heap).")
	verbose := flag.Bool("v", false, "Log the harness's controllers (the manager logs to its own file).")
	flag.Parse()
	for _, s := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "scale: -nodes: %q is not a node count\n", s)
			os.Exit(2)
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}
	if *verbose {
		ctrl.SetLogger(zap.New())
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg, os.Stdout)
	if res != nil {
		if werr := writeJSON(cfg.Out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "scale:", werr)
		} else {
			fmt.Printf("\nJSON: %s\n", cfg.Out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// config is one run's shape.
type config struct {
	Nodes      []int         `json:"nodes"`
	LUNs       int           `json:"luns"`
	PVs        int           `json:"pvs"`
	Burst      int           `json:"burst"`
	HostGroups int           `json:"hostGroups"`
	Paths      int           `json:"pathsPerMap"`
	Steady     time.Duration `json:"steadyNs"`
	Refresh    time.Duration `json:"refreshIntervalNs"`
	Out        string        `json:"-"`
	// CPUProfile, when set, profiles this process (the simulated agents and the harness) from
	// each apply until every node applied, into CPUProfile-<nodes>.
	CPUProfile  string `json:"-"`
	Dir         string `json:"-"`
	ManagerArgs string `json:"managerArgs,omitempty"`
	Pprof       string `json:"-"`
	// MemoryNodes, when above the largest size, is the node count the manager's memory is
	// measured at, the extra nodes reporting without an agent.
	MemoryNodes int `json:"memoryNodes,omitempty"`
}

func defaultConfig() config {
	return config{
		LUNs: 10000, PVs: 10000, Burst: 1000, HostGroups: 100, Paths: 4,
		Steady: time.Minute, Refresh: 10 * time.Second,
		Out: filepath.Join("bin", "scale", "results.json"),
	}
}

// logf prints a progress line with the time since start.
type progress struct {
	start time.Time
	out   *os.File
}

func (p progress) logf(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}
