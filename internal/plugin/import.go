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

package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// importOptions are the flags of `import`.
type importOptions struct {
	IOStreams
	Files  []string
	OutDir string
}

func newImportCommand(_ context.Context, streams IOStreams) *cobra.Command {
	o := &importOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "import -f PATH... [-o OUTDIR]",
		Short: "Turn a node's existing multipath.conf into MultipathConfig and MultipathWWID manifests",
		Long: `import reads an existing node's multipathd configuration: a file, a folder holding
multipath.conf and conf.d/*.conf (read in multipathd's order: later values win), or the output of
` + "`multipathd show config`" + ` (-f - reads standard input; values equal to multipath-tools 0.9.4's
built-in ones are then skipped). It writes the manifests that reproduce it: typed knobs from the
defaults sections, one MultipathWWID per multipaths entry (alias and per-LUN knobs), and the
blacklist, blacklist_exceptions, devices and overrides sections as spec.overrides. What cannot be
carried over is listed on standard error as file:line: reason. The manifests pass the same
validation as admission and render; check them with ` + "`kubectl multipath render -f OUTDIR`" + `.`,
		Example: `  # A vendor's recommended settings, as one MultipathConfig
  kubectl multipath import -f 10-vendor.conf > multipathconfig.yaml

  # A node's whole configuration, one manifest per object, into a GitOps folder
  scp -r node1:/etc/multipath.conf node1:/etc/multipath/conf.d node1-etc/
  kubectl multipath import -f node1-etc -o clusters/prod/multipath/

  # What a running multipathd uses
  ssh node1 multipathd show config | kubectl multipath import -f -`,
		PreRunE: func(*cobra.Command, []string) error { return o.Validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	cmd.Flags().StringSliceVarP(&o.Files, "filename", "f", nil, "multipath.conf files, folders of them, or - for standard input (repeatable, read in order).")
	cmd.Flags().StringVarP(&o.OutDir, "output-dir", "o", "", "Write one manifest per object into this folder instead of printing them.")
	return cmd
}

// Validate checks the flags.
func (o *importOptions) Validate() error {
	if len(o.Files) == 0 {
		return errors.New("at least one -f PATH is required (- reads standard input)")
	}
	if n := slices.Index(o.Files, "-"); n >= 0 && slices.Index(o.Files[n+1:], "-") >= 0 {
		return errors.New("-f - (standard input) may be given once")
	}
	return nil
}

// Run reads the sources, imports them and writes the manifests and the report.
func (o *importOptions) Run(_ context.Context) error {
	var sources []multipathconf.ImportSource
	for _, f := range o.Files {
		s, err := o.readSources(f)
		if err != nil {
			return err
		}
		sources = append(sources, s...)
	}
	if len(sources) == 0 {
		return fmt.Errorf("no multipath.conf file found in %s", strings.Join(o.Files, ", "))
	}
	im, err := multipathconf.Import(sources)
	if err != nil {
		return err
	}
	docs, err := manifests(im)
	if err != nil {
		return err
	}
	if o.OutDir != "" {
		if err := writeManifests(o.OutDir, docs); err != nil {
			return err
		}
	} else {
		names := make([]string, len(sources))
		for i, s := range sources {
			names[i] = s.Name
		}
		fmt.Fprintf(o.Out, "# Imported by kubectl multipath import from %s\n", strings.Join(names, ", "))
		for i, d := range docs {
			if i > 0 {
				fmt.Fprintln(o.Out, "---")
			}
			fmt.Fprint(o.Out, d.yaml)
		}
	}
	o.report(im, docs)
	return nil
}

// readSources reads one -f argument: standard input, a file, or a folder in multipathd's order.
func (o *importOptions) readSources(path string) ([]multipathconf.ImportSource, error) {
	if path == "-" {
		data, err := io.ReadAll(o.In)
		if err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
		return []multipathconf.ImportSource{{Name: "<stdin>", Text: string(data)}}, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if info.IsDir() {
		if files, err = confFiles(path); err != nil {
			return nil, err
		}
	}
	out := make([]multipathconf.ImportSource, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, multipathconf.ImportSource{Name: f, Text: string(data)})
	}
	return out, nil
}

// confFiles lists a folder's configuration as multipathd reads it: multipath.conf, then the
// *.conf files of conf.d (or multipath/conf.d, for a copy of /etc) by name; a folder with
// neither is read as a conf.d itself.
func confFiles(dir string) ([]string, error) {
	var files []string
	main := filepath.Join(dir, "multipath.conf")
	if _, err := os.Stat(main); err == nil {
		files = append(files, main)
	}
	for _, sub := range []string{"conf.d", filepath.Join("multipath", "conf.d")} {
		if info, err := os.Stat(filepath.Join(dir, sub)); err == nil && info.IsDir() {
			dropIns, err := filepath.Glob(filepath.Join(dir, sub, "*.conf"))
			if err != nil {
				return nil, err
			}
			slices.Sort(dropIns)
			return append(files, dropIns...), nil
		}
	}
	if len(files) > 0 {
		return files, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	slices.Sort(files)
	return files, err
}

// importedDoc is one object ready to write.
type importedDoc struct {
	file string // its file name under -o
	yaml string
}

// manifests prints the imported objects as YAML, without the fields a new object has no use
// for (creationTimestamp, status).
func manifests(im *multipathconf.Imported) ([]importedDoc, error) {
	var objs []runtime.Object
	if im.Config != nil {
		objs = append(objs, im.Config)
	}
	for i := range im.WWIDs {
		objs = append(objs, &im.WWIDs[i])
	}
	docs := make([]importedDoc, 0, len(objs))
	for _, obj := range objs {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u, "status")
		out, err := yaml.Marshal(u)
		if err != nil {
			return nil, err
		}
		kind, _, _ := unstructured.NestedString(u, "kind")
		name, _, _ := unstructured.NestedString(u, "metadata", "name")
		docs = append(docs, importedDoc{file: strings.ToLower(kind) + "-" + name + ".yaml", yaml: string(out)})
	}
	return docs, nil
}

func writeManifests(dir string, docs []importedDoc) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range docs {
		if err := os.WriteFile(filepath.Join(dir, d.file), []byte(d.yaml), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// report says on standard error what was read, what was not carried over, and what was written.
func (o *importOptions) report(im *multipathconf.Imported, docs []importedDoc) {
	for _, s := range im.ShowConfig {
		fmt.Fprintf(o.ErrOut, "%s: read as `multipathd show config` output: %s equal to multipath-tools 0.9.4's built-in ones skipped\n",
			s, count(im.BuiltinSkipped, "value", "values"))
	}
	for _, n := range im.Notes {
		fmt.Fprintln(o.ErrOut, n)
	}
	var parts []string
	if im.Config != nil {
		parts = append(parts, "1 MultipathConfig")
	}
	if len(im.WWIDs) > 0 {
		parts = append(parts, count(len(im.WWIDs), "MultipathWWID", "MultipathWWIDs"))
	}
	what := strings.Join(parts, " and ")
	if what == "" {
		what = "nothing: every value is multipathd's default or cannot be carried over"
	}
	where := ""
	if o.OutDir != "" {
		where = " into " + count(len(docs), "file", "files") + " in " + o.OutDir
	}
	dropped := ""
	if len(im.Notes) > 0 {
		dropped = "; " + strconv.Itoa(len(im.Notes)) + " not carried over (listed above)"
	}
	fmt.Fprintf(o.ErrOut, "imported %s%s%s\n", what, where, dropped)
}

// count reads "1 file", "2 files", "0 files".
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }
