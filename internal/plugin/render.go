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
several documents per file, - for standard input; other kinds are skipped), applies the same
per-object and cross-object validation as admission to every object, and prints every error as
<file>: <kind>/<name>: <field>: <rule>. It exits non-zero on any error. Otherwise it writes the multipathd drop-ins and the WWID allow-list into
OUTDIR, or prints them. No cluster is needed: this is what a GitOps repository's CI runs.`,
		Example: `  # Check a GitOps folder in CI
  kubectl multipath render -f clusters/prod/multipath/

  # Render the files a node would get
  kubectl multipath render -f config/samples -o /tmp/rendered

  # Check what another tool prints
  kustomize build clusters/prod | kubectl multipath render -f -`,
		PreRunE: func(*cobra.Command, []string) error { return o.Validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	cmd.Flags().StringSliceVarP(&o.Files, "filename", "f", nil, "Files or folders of manifests, or - for standard input (repeatable).")
	cmd.Flags().StringVarP(&o.OutDir, "output-dir", "o", "", "Write the rendered files into this folder instead of printing them.")
	cmd.Flags().StringSliceVar(&o.Versions, "multipath-tools-version", nil,
		"multipath-tools versions the nodes run, e.g. 0.8.4,0.9.4: refuse what one of them does not take (tested: "+
			strings.Join(multipathconf.TestedVersions, ", ")+").")
	return cmd
}

// Validate checks the flags.
func (o *renderOptions) Validate() error {
	if len(o.Files) == 0 {
		return errors.New("at least one -f PATH is required (- reads standard input)")
	}
	if n := slices.Index(o.Files, "-"); n >= 0 && slices.Index(o.Files[n+1:], "-") >= 0 {
		return errors.New("-f - (standard input) may be given once")
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
	objs, loadErrs := load(o.Files, o.In)
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
		fmt.Fprintf(o.ErrOut, "%s; nothing rendered\n", count(len(errs), "error", "errors"))
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
	fmt.Fprintf(o.ErrOut, "rendered %s, %s, hash %s\n", count(res.rendered.LUNs, "LUN", "LUNs"),
		count(res.rendered.Bytes, "byte", "bytes"), res.rendered.ShortHash())
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
	// config is the MultipathConfig cluster among the objects, nil when there is none.
	config *mpv1alpha1.MultipathConfig
}

// Check applies admission's rules to every loaded object and renders them, refusing what one of
// versions (multipath-tools versions the nodes run) does not take. Errors are formatted
// `<file>: <kind>/<name>: <field>: <rule>`. Offline objects have no creation time, so a conflict
// names the other object and its file, not which one is older.
func Check(objs []manifest, versions ...string) (result, []string) {
	nodes := map[string][]string{}
	for _, v := range versions {
		nodes[v] = nil // offline: versions without node names
	}
	var errs []string
	var config *mpv1alpha1.MultipathConfig
	var configs []manifest
	var wwids []mpv1alpha1.MultipathWWID
	seen := map[string]string{}
	for _, m := range objs {
		key := m.kind + "/" + m.name
		if prev, ok := seen[key]; ok {
			errs = append(errs, fmt.Sprintf("%s: %s: metadata.name: defined twice (also in %s)", m.source, key, prev))
			continue
		}
		seen[key] = m.source
		switch {
		case m.config != nil:
			// Every MultipathConfig is checked; the singleton's name rule refuses all but cluster.
			configs = append(configs, m)
			if m.name == mpv1alpha1.ClusterConfigName {
				config = m.config
			}
		case m.wwid != nil:
			// As the render controller: an invalid object is left out before conflicts are
			// settled, so it never wins a name, nor makes a valid one lose it.
			if invalid := multipathconf.ValidateMultipathWWID(m.wwid); len(invalid) > 0 {
				errs = append(errs, fieldErrors(m.source, key, invalid)...)
				continue
			}
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
		// The cluster keeps the older object; offline there is no creation time to tell.
		msg, _, _ := strings.Cut(c.Message, ", which ")
		key := "MultipathWWID/" + name
		errs = append(errs, fmt.Sprintf("%s: %s: %s: %s (in %s); two LUNs may not share it",
			seen[key], key, f, msg, seen["MultipathWWID/"+c.Winner]))
	}
	allow := make([]string, len(res.Winners))
	for i := range res.Winners {
		allow[i] = res.Winners[i].Spec.WWID
	}
	for _, m := range configs {
		key := "MultipathConfig/" + m.name
		errs = append(errs, fieldErrors(m.source, key, multipathconf.ValidateMultipathConfig(m.config, allow))...)
		if len(nodes) > 0 {
			errs = append(errs, fieldErrors(m.source, key, multipathconf.CheckConfigVersions(m.config, nodes))...)
		}
	}
	if len(nodes) > 0 {
		for i := range res.Winners {
			w := &res.Winners[i]
			key := "MultipathWWID/" + w.Name
			errs = append(errs, fieldErrors(seen[key], key, multipathconf.CheckWWIDVersions(w, nodes))...)
		}
	}
	if len(errs) > 0 {
		return result{}, errs
	}
	r, err := multipathconf.Render(config, res.Winners)
	if err != nil {
		return result{}, []string{"render: " + err.Error()}
	}
	return result{rendered: r, config: config}, nil
}

func fieldErrors(source, key string, list field.ErrorList) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Sprintf("%s: %s: %s: %s", source, key, e.Field, e.ErrorBody()))
	}
	return out
}

// load reads every manifest under the paths ("-" is stdin). Kinds other than ours are skipped.
func load(paths []string, stdin io.Reader) ([]manifest, []string) {
	var out []manifest
	var errs []string
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, "<stdin>: "+err.Error())
				continue
			}
			ms, ferrs := decodeManifests("<stdin>", data)
			out = append(out, ms...)
			errs = append(errs, ferrs...)
			continue
		}
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
	return decodeManifests(path, data)
}

// decodeManifests decodes the documents of one file; a manifest's source is the file, with
// the document's number when it is not the first.
func decodeManifests(path string, data []byte) ([]manifest, []string) {
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
		m := manifest{source: path, kind: u.GetKind(), name: u.GetName()}
		if doc > 1 {
			m.source = fmt.Sprintf("%s (document %d)", path, doc)
		}
		key := m.kind + "/" + m.name
		if u.GetAPIVersion() != mpv1alpha1.SchemeGroupVersion.String() {
			errs = append(errs, fmt.Sprintf("%s: %s: apiVersion: %s is not served, use %s", m.source, key, u.GetAPIVersion(), mpv1alpha1.SchemeGroupVersion))
			continue
		}
		raw, err := u.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s: %v", m.source, key, err))
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
			errs = append(errs, fmt.Sprintf("%s: %s: %s", m.source, key, explainDecodeError(err)))
			continue
		}
		for _, e := range strictErrs {
			errs = append(errs, fmt.Sprintf("%s: %s: %v", m.source, key, e))
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
