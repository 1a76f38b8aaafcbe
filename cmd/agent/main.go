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

// Command agent runs the kube-multipath node agent: one per node, it applies the node's desired
// multipath config and reports its maps and paths (see controllers/agent and docs/agent.md).
package main

import (
	"flag"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"

	"github.com/kube-multipath/kube-multipath/cmd/agent/app"
)

func main() {
	opts := app.DefaultOptions()
	opts.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	log.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	// controller-runtime's log, signal and kubeconfig packages, not its root package: that links
	// the scheme of every built-in kind (internal/kubeclient).
	ctx := signals.SetupSignalHandler()
	if err := app.Run(ctx, config.GetConfigOrDie(), opts); err != nil {
		log.Log.Error(err, "Agent stopped")
		os.Exit(1)
	}
}
