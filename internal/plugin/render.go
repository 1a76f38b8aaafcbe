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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/json"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// renderOptions are the flags and arguments of `render`.
type renderOptions struct {
	IOStreams
	Files  []string
	OutDir string
	// Versions are the multipath-tools versions the cluster's nodes run: what one of them does
	// not take is refused, as admission refuses it for the nodes' reported versions.
	Versions []string
}

// ErrInvalid is returned when any object fails validation; the errors are already printed.
var ErrInvalid = errors.New("the manifests are invalid")

func newRenderCommand(ctx context.Context, streams IOStreams) *cobra.Command {
	o := &renderOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "render -f PATH... [-o OUTDIR]",
		Short: "Validate MultipathConfig and MultipathWWID manifests and render multipathd's configuration, offline",
		Long: `render reads MultipathConfig and MultipathWWID manifests (files or folders, YAML or JSON,
several documents per file; other kinds are skipped), applies the same per-object and cross-object
validation as admission, and prints every error as <kind>/<name>: <field>: <rule>. It exits
non-zero on any error. Otherwise it writes the multipathd drop-ins and the WWID allow-list into
OUTDIR, or prints them. No cluster is needed: this is what a GitOps repository's CI runs.`,
		Example: `  # Check a GitOps folder in CI
  kubectl multipath render -f clusters/prod/multipath/

  # Render the files a node would get
  kubectl multipath render -f config/samples -o /tmp/rendered`,
		PreRunE: func(*cobra.Command, []string) error { return o.Validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	cmd.Flags().StringSliceVarP(&o.Files, "filename", "f", nil, "Files or folders of manifests (repeatable).")
	cmd.Flags().StringVarP(&o.OutDir, "output-dir", "o", "", "Write the rendered files into this folder instead of printing them.")
	cmd.Flags().StringSliceVar(&o.Versions, "multipath-tools-version", nil,
		"multipath-tools versions the nodes run, e.g. 0.8.4,0.9.4: refuse what one of them does not take (tested: "+
			strings.Join(multipathconf.TestedVersions, ", ")+").")
	return cmd
}

// Validate checks the flags.
func (o *renderOptions) Validate() error {
	if len(o.Files) == 0 {
		return errors.New("at least one -f PATH is required")
	}
	for _, v := range o.Versions {
		if !multipathconf.ValidVersion(v) {
			return fmt.Errorf("--multipath-tools-version %q is not a version like 0.9.4", v)
		}
	}
	return nil
}

// manifest is one decoded object with where it came from.
type manifest struct {
	source string
	kind   string
	name   string
	config *mpv1alpha1.MultipathConfig
	wwid   *mpv1alpha1.MultipathWWID
}

// Run loads, validates and renders.
func (o *renderOptions) Run(_ context.Context) error {
	objs, loadErrs := load(o.Files)
	for _, v := range o.Versions {
		if !multipathconf.InTestedRange(v) {
			fmt.Fprintf(o.ErrOut, "warning: multipath-tools %s is outside the tested range %s to %s: checked as its nearest tested version\n",
				v, multipathconf.TestedVersions[0], multipathconf.TestedVersions[len(multipathconf.TestedVersions)-1])
		}
	}
	res, errs := Check(objs, o.Versions...)
	errs = append(loadErrs, errs...)
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(o.ErrOut, e)
		}
		fmt.Fprintf(o.ErrOut, "%d error(s); nothing rendered\n", len(errs))
		return ErrInvalid
	}
	if res.rendered.Empty {
		fmt.Fprintln(o.ErrOut, "nothing to manage: no LUN, no knob, no overrides")
	}
	if o.OutDir != "" {
		return writeFiles(o.OutDir, res.rendered)
	}
	for _, f := range res.rendered.Files {
		fmt.Fprintf(o.Out, "# ==> %s <==\n%s", f.Name, f.Content)
		if !strings.HasSuffix(f.Content, "\n") {
			fmt.Fprintln(o.Out)
		}
	}
	fmt.Fprintf(o.ErrOut, "rendered %d LUNs, %d bytes, hash %s\n", res.rendered.LUNs, res.rendered.Bytes, res.rendered.ShortHash())
	return nil
}

func writeFiles(dir string, r *multipathconf.Rendered) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range r.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// result is the outcome of Check on valid manifests.
type result struct {
	rendered *multipathconf.Rendered
}

// Check applies admission's rules to the loaded objects and renders them, refusing what one of
// versions (multipath-tools versions the nodes run) does not take. Errors are formatted
// `<kind>/<name>: <field>: <rule>`.
func Check(objs []manifest, versions ...string) (result, []string) {
	nodes := map[string][]string{}
	for _, v := range versions {
		nodes[v] = nil // offline: versions without node names
	}
	var errs []string
	var config *mpv1alpha1.MultipathConfig
	var wwids []mpv1alpha1.MultipathWWID
	seen := map[string]string{}
	for _, m := range objs {
		key := m.kind + "/" + m.name
		if prev, ok := seen[key]; ok {
			errs = append(errs, fmt.Sprintf("%s: metadata.name: defined twice (%s and %s)", key, prev, m.source))
			continue
		}
		seen[key] = m.source
		switch {
		case m.config != nil:
			config = m.config
		case m.wwid != nil:
			errs = append(errs, fieldErrors(key, multipathconf.ValidateMultipathWWID(m.wwid))...)
			wwids = append(wwids, *m.wwid)
		}
	}
	res := multipathconf.ResolveConflicts(wwids)
	losers := make([]string, 0, len(res.Conflicts))
	for name := range res.Conflicts {
		losers = append(losers, name)
	}
	slices.Sort(losers)
	for _, name := range losers {
		c := res.Conflicts[name]
		f := "spec.alias"
		if c.Reason == mpv1alpha1.DuplicateWWIDReason {
			f = "spec.wwid"
		}
		errs = append(errs, fmt.Sprintf("MultipathWWID/%s: %s: %s", name, f, c.Message))
	}
	if config != nil {
		allow := make([]string, len(res.Winners))
		for i := range res.Winners {
			allow[i] = res.Winners[i].Spec.WWID
		}
		errs = append(errs, fieldErrors("MultipathConfig/"+config.Name, multipathconf.ValidateMultipathConfig(config, allow))...)
	}
	if len(nodes) > 0 {
		if config != nil {
			errs = append(errs, fieldErrors("MultipathConfig/"+config.Name, multipathconf.CheckConfigVersions(config, nodes))...)
		}
		for i := range res.Winners {
			w := &res.Winners[i]
			errs = append(errs, fieldErrors("MultipathWWID/"+w.Name, multipathconf.CheckWWIDVersions(w, nodes))...)
		}
	}
	if len(errs) > 0 {
		return result{}, errs
	}
	r, err := multipathconf.Render(config, res.Winners)
	if err != nil {
		return result{}, []string{"render: " + err.Error()}
	}
	return result{rendered: r}, nil
}

func fieldErrors(key string, list field.ErrorList) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Sprintf("%s: %s: %s", key, e.Field, e.ErrorBody()))
	}
	return out
}

// load reads every manifest under the paths. Kinds other than ours are skipped.
func load(paths []string) ([]manifest, []string) {
	var out []manifest
	var errs []string
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, f := range files {
			ms, ferrs := loadFile(f)
			out = append(out, ms...)
			errs = append(errs, ferrs...)
		}
	}
	return out, errs
}

func manifestFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() && d.Name() != "kustomization.yaml" {
				files = append(files, path)
			}
		}
		return nil
	})
	return files, err
}

func loadFile(path string) ([]manifest, []string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var out []manifest
	var errs []string
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			errs = append(errs, fmt.Sprintf("%s: document %d: %v", path, doc, err))
			break
		}
		if len(u.Object) == 0 || u.GroupVersionKind().Group != mpv1alpha1.SchemeGroupVersion.Group {
			continue
		}
		m := manifest{source: fmt.Sprintf("%s#%d", path, doc), kind: u.GetKind(), name: u.GetName()}
		key := m.kind + "/" + m.name
		if u.GetAPIVersion() != mpv1alpha1.SchemeGroupVersion.String() {
			errs = append(errs, fmt.Sprintf("%s: apiVersion: %s is not served, use %s", key, u.GetAPIVersion(), mpv1alpha1.SchemeGroupVersion))
			continue
		}
		raw, err := u.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		var target any
		switch m.kind {
		case "MultipathConfig":
			m.config = &mpv1alpha1.MultipathConfig{}
			target = m.config
		case "MultipathWWID":
			m.wwid = &mpv1alpha1.MultipathWWID{}
			target = m.wwid
		default:
			continue // MultipathNodeState is written by the operator, not kept in Git
		}
		// Strict, like `kubectl apply`: an unknown or misspelt field is an error, not ignored.
		strictErrs, err := json.UnmarshalStrict(raw, target)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", key, explainDecodeError(err)))
			continue
		}
		for _, e := range strictErrs {
			errs = append(errs, fmt.Sprintf("%s: %v", key, e))
		}
		if len(strictErrs) == 0 {
			out = append(out, m)
		}
	}
	return out, errs
}

// explainDecodeError turns the YAML 1.1 boolean trap into advice: an unquoted no/off/yes/on is a
// boolean, so `ghostDelay: no` must be written `ghostDelay: "no"`.
func explainDecodeError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "cannot unmarshal bool") {
		return msg + ` (YAML reads an unquoted no, off, yes or on as a boolean: quote the keyword, e.g. "no")`
	}
	return msg
}
