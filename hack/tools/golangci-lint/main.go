// Command golangci-lint is golangci-lint's own command with the Kube API Linter compiled in as a
// module plugin: what `golangci-lint custom` builds, without cloning a repository. hack/golangci-lint.sh
// builds it; the pins are this folder's go.mod.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/golangci/golangci-lint/v2/pkg/commands"
	"github.com/golangci/golangci-lint/v2/pkg/exitcodes"

	// Registers the "kubeapilinter" module plugin (linters.settings.custom.kubeapilinter, type: module).
	_ "sigs.k8s.io/kube-api-linter"
)

func main() {
	if err := commands.Execute(buildInfo()); err != nil {
		_, _ = fmt.Fprintf(os.Stderr, "The command is terminated due to an error: %v\n", err)
		os.Exit(exitcodes.Failure)
	}
}

// buildInfo reports the pinned golangci-lint and Kube API Linter versions: the main module here is
// this tools module, so golangci-lint's own main (which reads the main module's version) would say
// "(devel)".
func buildInfo() commands.BuildInfo {
	info := commands.BuildInfo{Version: "unknown", Commit: "?", Date: "(unknown)", GoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.GoVersion = bi.GoVersion
	kal := "unknown"
	for _, dep := range bi.Deps {
		switch dep.Path {
		case "github.com/golangci/golangci-lint/v2":
			info.Version = strings.TrimPrefix(dep.Version, "v")
		case "sigs.k8s.io/kube-api-linter":
			kal = dep.Version
		}
	}
	info.Commit = "kube-api-linter " + kal
	return info
}
