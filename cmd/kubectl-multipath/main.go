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

// Command kubectl-multipath is the kube-multipath kubectl plugin.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/kube-multipath/kube-multipath/internal/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], plugin.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}

// run runs the command line and returns its exit code: 0, 1 when the command fails, or the
// code of a plugin.ExitError (status --fail-on, diff), whose message a Quiet one does not print.
func run(ctx context.Context, args []string, streams plugin.IOStreams) int {
	cmd := plugin.NewCommand(ctx, streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	exit := (*plugin.ExitError)(nil)
	isExit := errors.As(err, &exit)
	if !errors.Is(err, plugin.ErrInvalid) && !(isExit && exit.Quiet) {
		fmt.Fprintln(streams.ErrOut, "error:", err)
	}
	if isExit {
		return exit.Code
	}
	return 1
}
