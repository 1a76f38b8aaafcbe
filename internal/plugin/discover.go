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
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// maxDiscoverNodeNames bounds the node names kept per device (the count is always given).
const maxDiscoverNodeNames = 8

// discoverOptions are the flags of `discover`.
type discoverOptions struct {
	IOStreams
	cluster *clusterFlags
	output  string
}

func newDiscoverCommand(_ context.Context, streams IOStreams) *cobra.Command {
	return discoverCommand(&discoverOptions{IOStreams: streams, cluster: newClusterFlags()})
}

func discoverCommand(o *discoverOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "List the multipath devices the nodes see that no MultipathWWID manages",
		Long: `discover lists, across nodes, the multipath-capable devices each node's agent reports in its
MultipathNodeState (status.unmanagedDevices): paths multipathd tracks (its blacklists applied, its
WWIDs) whose WWID no MultipathWWID handed to that node names. They are orphan paths no map holds,
or paths of a map the host assembled under its own name (HOST MAP). One row per WWID: vendor and
product, size, the most paths one node sees, the nodes that see it, and LUN when a MultipathWWID
for it exists already (just created, not rolled out yet).

Adopt one with: kubectl multipath adopt WWID --alias NAME`,
		Example: `  kubectl multipath discover
  kubectl multipath discover -o yaml`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return o.Validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	o.cluster.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: json or yaml.")
	return cmd
}

// Validate checks the flags.
func (o *discoverOptions) Validate() error {
	switch outputFormat(o.output) {
	case outputTable, outputJSON, outputYAML:
	default:
		return fmt.Errorf("--output %q is not supported: use json or yaml", o.output)
	}
	return o.cluster.validate()
}

// Run lists the nodes' reports and prints the devices.
func (o *discoverOptions) Run(ctx context.Context) error {
	c, err := o.cluster.reader()
	if err != nil {
		return err
	}
	r, err := discover(ctx, c)
	if err != nil {
		return err
	}
	switch outputFormat(o.output) {
	case outputJSON:
		return printJSON(o.Out, r)
	case outputYAML:
		return printYAML(o.Out, r)
	}
	_, err = io.WriteString(o.Out, FormatDiscover(r))
	return err
}

func discover(ctx context.Context, c client.Reader) (*DiscoverReport, error) {
	states := &mpv1alpha1.MultipathNodeStateList{}
	if err := c.List(ctx, states); err != nil {
		return nil, fmt.Errorf("failed to list MultipathNodeStates: %w", err)
	}
	wwids := &mpv1alpha1.MultipathWWIDList{}
	if err := c.List(ctx, wwids); err != nil {
		return nil, fmt.Errorf("failed to list MultipathWWIDs: %w", err)
	}
	return BuildDiscover(states.Items, wwids.Items), nil
}

// DiscoverReport is what `discover` shows.
type DiscoverReport struct {
	Devices []DiscoveredDevice `json:"devices"`
	// Truncated are the nodes that see more unmanaged devices than they list.
	Truncated []TruncatedNode `json:"truncated,omitempty"`
}

// DiscoveredDevice is one unmanaged WWID across the nodes that see it.
type DiscoveredDevice struct {
	WWID    string `json:"wwid"`
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
	Size    string `json:"size,omitempty"`
	// Paths is the most paths one node sees.
	Paths int32 `json:"paths"`
	// NodeCount is the number of nodes that see it; Nodes names the first 8, sorted.
	NodeCount int      `json:"nodeCount"`
	Nodes     []string `json:"nodes"`
	// HostMaps are the names of the maps nodes assembled from it under their own names.
	HostMaps []string `json:"hostMaps,omitempty"`
	// LUN is the MultipathWWID with this WWID, when one exists already.
	LUN string `json:"lun,omitempty"`
}

// TruncatedNode is a node that reports more unmanaged devices than it lists.
type TruncatedNode struct {
	Node   string `json:"node"`
	Count  int32  `json:"count"`
	Listed int    `json:"listed"`
}

// BuildDiscover merges the nodes' reports by WWID (case-insensitively, as the API compares
// WWIDs). It is pure.
func BuildDiscover(states []mpv1alpha1.MultipathNodeState, wwids []mpv1alpha1.MultipathWWID) *DiscoverReport {
	luns := map[string]string{}
	for _, w := range wwids {
		luns[strings.ToLower(w.Spec.WWID)] = w.Name
	}
	slices.SortFunc(states, func(a, b mpv1alpha1.MultipathNodeState) int { return strings.Compare(a.Name, b.Name) })
	byWWID := map[string]*DiscoveredDevice{}
	r := &DiscoverReport{Devices: []DiscoveredDevice{}}
	for _, st := range states {
		if n := len(st.Status.UnmanagedDevices); int(st.Status.UnmanagedDeviceCount) > n {
			r.Truncated = append(r.Truncated, TruncatedNode{Node: st.Name, Count: st.Status.UnmanagedDeviceCount, Listed: n})
		}
		for _, u := range st.Status.UnmanagedDevices {
			key := strings.ToLower(u.WWID)
			d := byWWID[key]
			if d == nil {
				d = &DiscoveredDevice{WWID: u.WWID, Vendor: u.Vendor, Product: u.Product, Size: u.Size, LUN: luns[key], Nodes: []string{}}
				byWWID[key] = d
			}
			d.Paths = max(d.Paths, u.PathCount)
			d.NodeCount++
			if len(d.Nodes) < maxDiscoverNodeNames {
				d.Nodes = append(d.Nodes, st.Name)
			}
			if u.InMap != "" && !slices.Contains(d.HostMaps, u.InMap) {
				d.HostMaps = append(d.HostMaps, u.InMap)
			}
		}
	}
	for _, d := range byWWID {
		slices.Sort(d.HostMaps)
		r.Devices = append(r.Devices, *d)
	}
	slices.SortFunc(r.Devices, func(a, b DiscoveredDevice) int { return strings.Compare(a.WWID, b.WWID) })
	return r
}

// FormatDiscover is the table `discover` prints.
func FormatDiscover(r *DiscoverReport) string {
	var b strings.Builder
	if len(r.Devices) == 0 {
		b.WriteString("No node reports a multipath device that no MultipathWWID manages.\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "WWID\tVENDOR/PRODUCT\tSIZE\tPATHS\tNODES\tHOST MAP\tLUN")
		for _, d := range r.Devices {
			nodes := fmt.Sprintf("%d: %s", d.NodeCount, strings.Join(d.Nodes[:min(len(d.Nodes), 3)], ","))
			if d.NodeCount > 3 {
				nodes += fmt.Sprintf(",+%d", d.NodeCount-3)
			}
			vp := strings.Trim(d.Vendor+"/"+d.Product, "/")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.WWID, dash(vp), dash(d.Size), d.Paths, nodes, dash(strings.Join(d.HostMaps, ",")), dash(d.LUN))
		}
		_ = tw.Flush()
	}
	for _, t := range r.Truncated {
		fmt.Fprintf(&b, "Node %s sees %d unmanaged devices and lists only %d.\n", t.Node, t.Count, t.Listed)
	}
	if len(r.Devices) > 0 {
		b.WriteString("\nAdopt one: kubectl multipath adopt WWID --alias NAME\n")
		if slices.ContainsFunc(r.Devices, func(d DiscoveredDevice) bool { return len(d.HostMaps) > 0 }) {
			b.WriteString("A LUN with a HOST MAP is assembled by the host under its own name: while the host holds that map open\n" +
				"(mounted, LVM, swap), its MultipathWWID is held, not rendered (docs/operations.md, \"Taking over a map the host named and uses\").\n")
		}
	}
	return b.String()
}
