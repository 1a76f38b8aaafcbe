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

// Package plugin is the kubectl-multipath command line: `render` validates and renders a folder
// of MultipathConfig and MultipathWWID manifests offline, the way admission and the manager would,
// so a GitOps repository's CI refuses what the cluster would refuse; `import` turns a node's
// existing multipath.conf into those manifests; `diff` shows per node what a change to them, or
// unpausing the rollout, would do; `discover` lists the LUNs the nodes see that no MultipathWWID
// manages and `adopt` writes the MultipathWWID for one.
package plugin

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// IOStreams are the command's standard streams, swapped in tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// registerFunc adds one subcommand to the root.
type registerFunc func(ctx context.Context, streams IOStreams) *cobra.Command

// commands lists the subcommands; each lives in its own file.
func commands() []registerFunc {
	return []registerFunc{newRenderCommand, newDiffCommand, newImportCommand, newStatusCommand, newMapsCommand, newDiscoverCommand, newAdoptCommand, newVersionCommand}
}

// NewCommand builds the root command. Named kubectl-multipath, it shows "kubectl multipath" in
// help, as kubectl plugins do.
func NewCommand(ctx context.Context, streams IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "kubectl-multipath",
		Short:         "Inspect and validate kube-multipath (cluster-wide dm-multipath)",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		// Installed as a plugin: help reads "kubectl multipath status", as kubectl runs it.
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl multipath"}
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	for _, register := range commands() {
		root.AddCommand(register(ctx, streams))
	}
	return root
}
