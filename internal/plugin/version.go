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
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Version is the plugin's version, set at build time:
//
//	go build -ldflags "-X github.com/kube-multipath/kube-multipath/internal/plugin.Version=v0.4.0" ./cmd/kubectl-multipath
//
// Without it, the module version and VCS revision Go recorded in the binary are shown.
var Version string

// The workloads config/default installs; their images are what runs in the cluster.
const (
	managerDeployment = "kube-multipath-manager"
	agentDaemonSet    = "kube-multipath-agent"
)

// versionOptions are the flags of `version`.
type versionOptions struct {
	IOStreams
	cluster    *clusterFlags
	clientOnly bool
	output     string
}

func newVersionCommand(_ context.Context, streams IOStreams) *cobra.Command {
	return versionCommand(&versionOptions{IOStreams: streams, cluster: newClusterFlags()})
}

func versionCommand(o *versionOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the plugin's version, and the images of the manager and agents in the cluster",
		Long: `version shows this plugin's version and, unless --client, the images the cluster runs: the
manager Deployment's and the agent DaemonSet's, in the operator's namespace. The manager and the
agent report no version of their own, so their image (its tag or digest) is what tells them.
A cluster that cannot be read is said, not an error.`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return o.validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.clientOnly, "client", false, "Show the plugin's version only; do not read the cluster.")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}

func (o *versionOptions) validate() error {
	switch outputFormat(o.output) {
	case outputTable, outputJSON, outputYAML:
	default:
		return fmt.Errorf("--output %q is not supported: use json or yaml", o.output)
	}
	return o.cluster.validate()
}

// VersionReport is what `version` shows.
type VersionReport struct {
	Client string `json:"client"`
	// Manager and Agent are the workloads' images; nil with --client.
	Manager *WorkloadVersion `json:"manager,omitempty"`
	Agent   *WorkloadVersion `json:"agent,omitempty"`
}

// WorkloadVersion is one workload of the operator and its images.
type WorkloadVersion struct {
	// Workload is "Deployment NAMESPACE/NAME" or "DaemonSet NAMESPACE/NAME".
	Workload string   `json:"workload"`
	Images   []string `json:"images,omitempty"`
	// Error is why it could not be read.
	Error string `json:"error,omitempty"`
}

// ClientVersion is the plugin's version: Version when set at build time, else what Go recorded
// (the module version, the VCS revision and whether the tree was modified), else "unknown".
func ClientVersion() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	return buildInfoVersion(info)
}

func buildInfoVersion(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var extra []string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && s.Value != "":
			extra = append(extra, "commit "+s.Value[:min(len(s.Value), 12)])
		case s.Key == "vcs.modified" && s.Value == "true":
			extra = append(extra, "modified")
		}
	}
	if len(extra) > 0 {
		v += " (" + strings.Join(extra, ", ") + ")"
	}
	return v
}

func (o *versionOptions) run(ctx context.Context) error {
	r := &VersionReport{Client: ClientVersion()}
	if !o.clientOnly {
		c, err := o.cluster.reader()
		if err != nil {
			r.Manager = &WorkloadVersion{Workload: "Deployment " + o.cluster.namespace + "/" + managerDeployment, Error: err.Error()}
		} else {
			r.Manager = workloadVersion(ctx, c, &appsv1.Deployment{}, "Deployment", o.cluster.namespace, managerDeployment)
			r.Agent = workloadVersion(ctx, c, &appsv1.DaemonSet{}, "DaemonSet", o.cluster.namespace, agentDaemonSet)
		}
	}
	switch outputFormat(o.output) {
	case outputJSON:
		return printJSON(o.Out, r)
	case outputYAML:
		return printYAML(o.Out, r)
	}
	_, err := io.WriteString(o.Out, FormatVersion(r))
	return err
}

// workloadVersion reads the images of one Deployment or DaemonSet.
func workloadVersion(ctx context.Context, c client.Reader, obj client.Object, kind, namespace, name string) *WorkloadVersion {
	w := &WorkloadVersion{Workload: kind + " " + namespace + "/" + name}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			w.Error = "not found (installed elsewhere? -n names the operator's namespace)"
		} else {
			w.Error = err.Error()
		}
		return w
	}
	var spec *corev1.PodSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec = &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		spec = &o.Spec.Template.Spec
	}
	for _, ct := range spec.Containers {
		w.Images = append(w.Images, ct.Image)
	}
	return w
}

// FormatVersion renders the report as text. It is pure.
func FormatVersion(r *VersionReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubectl-multipath: %s\n", r.Client)
	for _, w := range []struct {
		label string
		v     *WorkloadVersion
	}{{"manager:          ", r.Manager}, {"agent:            ", r.Agent}} {
		switch {
		case w.v == nil:
		case w.v.Error != "":
			fmt.Fprintf(&b, "%s not read: %s: %s\n", w.label, w.v.Workload, oneLine(w.v.Error))
		default:
			fmt.Fprintf(&b, "%s image %s (%s)\n", w.label, strings.Join(w.v.Images, ", "), w.v.Workload)
		}
	}
	if r.Manager != nil {
		b.WriteString("The manager and the agents report no version of their own: their image tells it.\n")
	}
	return b.String()
}
