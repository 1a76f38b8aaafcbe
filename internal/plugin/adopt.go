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
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
)

// adoptOptions are the flags and argument of `adopt`.
type adoptOptions struct {
	IOStreams
	cluster *clusterFlags
	wwid    string
	alias   string
	name    string
	dryRun  bool
	output  string
	// newClient is the cluster client; tests swap it.
	newClient func() (client.Client, error)
}

func newAdoptCommand(_ context.Context, streams IOStreams) *cobra.Command {
	o := &adoptOptions{IOStreams: streams, cluster: newClusterFlags()}
	o.newClient = o.cluster.client
	return adoptCommand(o)
}

func adoptCommand(o *adoptOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "adopt WWID --alias NAME",
		Short: "Create the MultipathWWID for a device `discover` lists",
		Long: `adopt creates the MultipathWWID that allow-lists WWID on the nodes, with spec.alias NAME
(the map's name on every node). The object is named after the alias (or the WWID without one;
--name chooses another) and checked as admission checks it. adopt refuses a WWID a
MultipathWWID already manages.

-o yaml prints the object and writes nothing (for a GitOps repository); --dry-run sends it to the
API server without persisting it (admission runs).

A LUN the host already assembled under its own name (discover's HOST MAP) and holds open
(mounted, LVM, swap) is held, not rendered, until the map is freed or spec.alias is the host's
name: see docs/operations.md, "Taking over a map the host named and uses".`,
		Example: `  kubectl multipath adopt 36001405aaaaaaaaaaaaaaaaaaaaaaaaa --alias data01
  kubectl multipath adopt 36001405aaaaaaaaaaaaaaaaaaaaaaaaa --alias data01 -o yaml > luns/data01.yaml`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(_ *cobra.Command, args []string) error { return o.Validate(args) },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.alias, "alias", "", "spec.alias: the map's name on every node.")
	cmd.Flags().StringVar(&o.name, "name", "", "The MultipathWWID's name (default: the alias, or the WWID).")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "Send the object to the API server without persisting it.")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "yaml: print the object and write nothing.")
	return cmd
}

// Validate checks the flags and the WWID argument.
func (o *adoptOptions) Validate(args []string) error {
	if len(args) != 1 || args[0] == "" {
		return errors.New("exactly one WWID is required")
	}
	o.wwid = args[0]
	if o.output != "" && o.output != string(outputYAML) {
		return fmt.Errorf("--output %q is not supported: use yaml", o.output)
	}
	return o.cluster.validate()
}

// Object is the MultipathWWID adopt writes, checked as admission checks it.
func (o *adoptOptions) Object() (*mpv1alpha1.MultipathWWID, error) {
	name := o.name
	if name == "" {
		name = multipathconf.ObjectName(o.alias, o.wwid)
	}
	w := &mpv1alpha1.MultipathWWID{
		TypeMeta:   metav1.TypeMeta{APIVersion: mpv1alpha1.GroupVersion.String(), Kind: "MultipathWWID"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: o.wwid, Alias: o.alias},
	}
	if errs := multipathconf.ValidateMultipathWWID(w); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("MultipathWWID %s would be refused: %s", name, strings.Join(msgs, "; "))
	}
	return w, nil
}

// Run creates (or prints) the MultipathWWID.
func (o *adoptOptions) Run(ctx context.Context) error {
	w, err := o.Object()
	if err != nil {
		return err
	}
	c, err := o.newClient()
	if err != nil {
		return err
	}
	r, err := discover(ctx, c)
	if err != nil {
		return err
	}
	var seen *DiscoveredDevice
	for i := range r.Devices {
		if strings.EqualFold(r.Devices[i].WWID, o.wwid) {
			seen = &r.Devices[i]
		}
	}
	existing := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(ctx, existing); err != nil {
		return fmt.Errorf("failed to list MultipathWWIDs: %w", err)
	}
	for _, e := range existing.Items {
		if strings.EqualFold(e.Spec.WWID, o.wwid) {
			return fmt.Errorf("WWID %s is already managed by MultipathWWID %s: nothing to adopt", o.wwid, e.Name)
		}
	}
	if o.output == string(outputYAML) {
		return printYAML(o.Out, w)
	}
	var opts []client.CreateOption
	suffix := "created"
	if o.dryRun {
		opts, suffix = append(opts, client.DryRunAll), "created (server dry run)"
	}
	if err := c.Create(ctx, w, opts...); err != nil {
		return fmt.Errorf("failed to create MultipathWWID %s: %w", w.Name, err)
	}
	fmt.Fprintf(o.Out, "multipathwwid/%s %s\n", w.Name, suffix)
	switch {
	case seen == nil:
		fmt.Fprintf(o.Out, "No node reports WWID %s as unmanaged (kubectl multipath discover): check the WWID.\n", o.wwid)
	case len(seen.HostMaps) > 0:
		fmt.Fprintf(o.Out, "The host assembled it as %s: while a node holds that map open (mounted, LVM, swap), the LUN is held, not rendered;\n"+
			"free the map, or set spec.alias to the host's name when it is a valid alias (docs/operations.md, \"Taking over a map the host named and uses\").\n",
			strings.Join(seen.HostMaps, ", "))
	}
	return nil
}
