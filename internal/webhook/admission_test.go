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

package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// The fixtures of TestAdmission: LUNs, the volumes that use some of them, and the config.
const (
	wwidA = "3600a098038303053453000000000a001" // lun-a "oradata", used through a partition path
	wwidB = "3600a098038303053453000000000b002" // lun-b, no alias, unused
	wwidC = "3600a098038303053453000000000c003" // lun-c "backup", used by two volumes
	wwidD = "3600a098038303053453000000000d004" // lun-d "scratch", used, force-remove set
	wwidE = "3600a098038303053453000000000e005" // lun-e "leaving", being deleted
	wwidG = "3600a098038303053453000000000f006" // lun-g, used through a CSI attribute

	// blacklisted matches the config's blacklist; almostBlacklisted does not.
	blacklisted       = "36000c2900000000000000000000000aa"
	almostBlacklisted = "36000c2800000000000000000000000aa"

	clusterOverrides = "blacklist {\n\twwid \"^36000c29\"\n}\n"
)

// admissionCase is one request: a dry run, so that no case changes what the next one sees.
type admissionCase struct {
	name string
	// do sends the request through c.
	do func(ctx context.Context, c client.Client) error
	// refused lists fragments of the refusal; empty means admitted.
	refused []string
	// warned lists fragments of a warning the API server must return.
	warned []string
}

func createLUN(w *mpv1alpha1.MultipathWWID) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error { return c.Create(ctx, w, client.DryRunAll) }
}

// updateLUN reads the named LUN, changes it, and updates it.
func updateLUN(name string, change func(*mpv1alpha1.MultipathWWID)) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		w := &mpv1alpha1.MultipathWWID{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
			return fmt.Errorf("test setup: %w", err)
		}
		change(w)
		return c.Update(ctx, w, client.DryRunAll)
	}
}

func deleteLUN(name string) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		return c.Delete(ctx, &mpv1alpha1.MultipathWWID{ObjectMeta: metav1.ObjectMeta{Name: name}}, client.DryRunAll)
	}
}

// updateConfig reads the MultipathConfig, changes its spec, and updates it.
func updateConfig(change func(*mpv1alpha1.MultipathConfigSpec)) func(context.Context, client.Client) error {
	return func(ctx context.Context, c client.Client) error {
		cfg := &mpv1alpha1.MultipathConfig{}
		if err := c.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
			return fmt.Errorf("test setup: %w", err)
		}
		change(&cfg.Spec)
		return c.Update(ctx, cfg, client.DryRunAll)
	}
}

func overrides(text string) func(*mpv1alpha1.MultipathConfigSpec) {
	return func(s *mpv1alpha1.MultipathConfigSpec) { s.Overrides = text }
}

const whyWebhook = `admission webhook "validate.multipathwwids.multipath.kube-multipath.io" denied the request: MultipathWWID.multipath.kube-multipath.io`

// TestAdmission sends each refused request, and its valid twin, through the real API server
// to the webhook over TLS, asserting the message names the other object, volume or line.
func TestAdmission(t *testing.T) {
	ctx := context.Background()
	lunE := lun("lun-e", wwidE, withAlias("leaving"), withFinalizer("kube-multipath.io/test-hold"))
	create(t,
		lun("lun-a", wwidA, withAlias("oradata")),
		lun("lun-b", wwidB),
		lun("lun-c", wwidC, withAlias("backup")),
		lun("lun-d", wwidD, withAlias("scratch"), withForce()),
		lunE,
		lun("lun-g", wwidG),
		pvLocal("pv-a-part", "/dev/mapper/oradata-part1"),
		pvFC("pv-c-fc", wwidC),
		pvLocal("pv-c-local", "/dev/mapper/backup"),
		pvAnnotated("pv-d", wwidD),
		pvCSI("pv-g", wwidG),
		&mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
			Spec: mpv1alpha1.MultipathConfigSpec{Overrides: clusterOverrides}},
	)
	if err := k8s.Delete(ctx, lunE); err != nil {
		t.Fatal(err)
	}
	lunE.DeletionTimestamp = ptr.To(metav1.Now())
	seen(t, lunE)
	// The render controller has seen the volumes once it has put the in-use finalizer on lun-c.
	eventually(t, func() error {
		for _, name := range []string{"lun-a", "lun-c", "lun-g"} {
			w := &mpv1alpha1.MultipathWWID{}
			if err := cached.Get(ctx, client.ObjectKey{Name: name}, w); err != nil {
				return err
			}
			if !hasFinalizer(w, mpv1alpha1.InUseFinalizer) || w.Status.RenderedAlias == nil {
				return fmt.Errorf("%s not rendered and protected yet", name)
			}
		}
		return nil
	})
	seen(t, &mpv1alpha1.MultipathConfig{ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName}})

	cases := []admissionCase{
		// Names another MultipathWWID claims.
		{name: "a WWID another LUN allow-lists", do: createLUN(lun("new", wwidA)),
			refused: []string{whyWebhook, `spec.wwid: Invalid value: "` + wwidA + `": WWID ` + wwidA + ` is already allow-listed by MultipathWWID "lun-a"`}},
		{name: "the same WWID spelled in capitals", do: createLUN(lun("new", strings.ToUpper(wwidA))),
			refused: []string{`WWID ` + strings.ToUpper(wwidA) + ` is (as ` + wwidA + `, ignoring case) already allow-listed by MultipathWWID "lun-a"`}},
		{name: "valid twin: a WWID nobody allow-lists", do: createLUN(lun("new", "3600a098038303053453000000000a0ff"))},
		{name: "an alias another LUN uses", do: createLUN(lun("new", "3600a0980383030534530000000001111", withAlias("oradata"))),
			refused: []string{`spec.alias: Invalid value: "oradata": alias "oradata" is already the alias of MultipathWWID "lun-a": choose another alias`}},
		{name: "an alias another LUN uses, in other case", do: createLUN(lun("new", "3600a0980383030534530000000001111", withAlias("OraData"))),
			refused: []string{`alias "OraData" is (as oradata, ignoring case) already the alias of MultipathWWID "lun-a"`}},
		{name: "valid twin: an alias that only starts like another", do: createLUN(lun("new", "3600a0980383030534530000000001111", withAlias("oradata2")))},
		{name: "an alias equal to another LUN's WWID", do: createLUN(lun("new", "3600a0980383030534530000000001111", withAlias(wwidB))),
			refused: []string{`spec.alias: Invalid value: "` + wwidB + `": alias "` + wwidB + `" is the WWID of MultipathWWID "lun-b"`}},
		{name: "a WWID equal to another LUN's alias", do: createLUN(lun("new", "backup")),
			refused: []string{`spec.wwid: Invalid value: "backup": WWID backup is the alias of MultipathWWID "lun-c"`}},
		{name: "an alias held by a LUN being deleted", do: createLUN(lun("new", "3600a0980383030534530000000001111", withAlias("leaving"))),
			refused: []string{`alias "leaving" is already the alias of MultipathWWID "lun-e", which is being deleted and holds its names until it is gone`}},
		{name: "both the WWID and the alias taken, both reported", do: createLUN(lun("new", wwidB, withAlias("scratch"))),
			refused: []string{`WWID ` + wwidB + ` is already allow-listed by MultipathWWID "lun-b"`, `alias "scratch" is already the alias of MultipathWWID "lun-d"`}},

		// What the render would refuse for other objects' sake.
		{name: "a WWID the MultipathConfig blacklists", do: createLUN(lun("new", blacklisted)),
			refused: []string{`spec.wwid: Invalid value: "` + blacklisted + `": MultipathConfig "cluster" spec.overrides line 2: blacklist wwid "^36000c29" matches the allow-listed WWID ` + blacklisted + `: remove it, or add a blacklist_exceptions wwid`}},
		{name: "valid twin: a WWID the blacklist does not match", do: createLUN(lun("new", almostBlacklisted))},

		// Rules the CRD cannot state, from multipathconf.
		{name: "a node selector the CRD takes and Kubernetes refuses", do: createLUN(lun("new", "3600a0980383030534530000000001111", withNodeSelector(badSelector()))),
			refused: []string{whyWebhook, `spec.nodeSelector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`}},
		{name: "valid twin: a node selector Kubernetes accepts", do: createLUN(lun("new", "3600a0980383030534530000000001111",
			withNodeSelector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}}}})))},
		{name: "prioArgs too long for multipathd's line buffer", do: createLUN(lun("new", "3600a0980383030534530000000001111", withPrioArgs(strings.Repeat("𝄞", 255)))),
			refused: []string{whyWebhook, `spec.prioArgs: Invalid value:`, `prioArgs `}},
		{name: "valid twin: prioArgs of 255 ASCII characters", do: createLUN(lun("new", "3600a0980383030534530000000001111", withPrioArgs(strings.Repeat("a", 255))))},
		{name: "a LUN created with the force annotation is admitted with a warning", do: createLUN(lun("new", "3600a0980383030534530000000001111", withForce())),
			warned: []string{`MultipathWWID new carries multipath.kube-multipath.io/force-remove=true`}},

		// Updates.
		{name: "changing the alias of a LUN two volumes use", do: updateLUN("lun-c", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "backup2" }),
			refused: []string{whyWebhook, `"lun-c" is invalid: spec.alias: Forbidden: the LUN is used by PersistentVolumes pv-c-fc and pv-c-local: changing the alias would rename /dev/mapper/backup on every node`,
				`set the annotation multipath.kube-multipath.io/force-remove=true to force the change`}},
		{name: "removing the alias of a used LUN", do: updateLUN("lun-c", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "" }),
			refused: []string{`spec.alias: Forbidden: the LUN is used by PersistentVolumes pv-c-fc and pv-c-local`}},
		{name: "giving an alias to a LUN a volume uses by its WWID", do: updateLUN("lun-g", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "gold" }),
			refused: []string{`the LUN is used by PersistentVolume pv-g: changing the alias would rename /dev/mapper/` + wwidG}},
		{name: "valid twin: changing a knob of a used LUN", do: updateLUN("lun-c", func(w *mpv1alpha1.MultipathWWID) {
			w.Spec.NoPathRetry = ptr.To(intstrQueue())
		})},
		{name: "valid twin: changing the alias of a used LUN with the force annotation", do: updateLUN("lun-d", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "scratch2" }),
			warned: []string{`the LUN is used by PersistentVolume pv-d: changing the alias renames /dev/mapper/scratch to /dev/mapper/scratch2 on every node`}},
		{name: "valid twin: changing the alias of an unused LUN", do: updateLUN("lun-b", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "bravo" })},
		{name: "changing an alias to another LUN's", do: updateLUN("lun-b", func(w *mpv1alpha1.MultipathWWID) { w.Spec.Alias = "Backup" }),
			refused: []string{`spec.alias: Invalid value: "Backup": alias "Backup" is (as backup, ignoring case) already the alias of MultipathWWID "lun-c"`}},
		{name: "an older LUN cannot take a newer one's alias either", do: updateLUN("lun-a", func(w *mpv1alpha1.MultipathWWID) {
			w.Spec.Alias = "scratch"
		}), refused: []string{`alias "scratch" is already the alias of MultipathWWID "lun-d"`}},
		{name: "changing the WWID (the CRD refuses it first)", do: updateLUN("lun-b", func(w *mpv1alpha1.MultipathWWID) { w.Spec.WWID = wwidB + "0" }),
			refused: []string{`wwid is immutable`}},
		{name: "an invalid node selector on update", do: updateLUN("lun-b", func(w *mpv1alpha1.MultipathWWID) { w.Spec.NodeSelector = badSelector() }),
			refused: []string{`spec.nodeSelector.matchExpressions[0].operator`}},
		{name: "valid twin: a metadata-only update of a used LUN", do: updateLUN("lun-c", func(w *mpv1alpha1.MultipathWWID) {
			metav1.SetMetaDataLabel(&w.ObjectMeta, "tier", "gold")
		})},

		// Deletes.
		{name: "deleting a LUN two volumes use", do: deleteLUN("lun-c"),
			refused: []string{`admission webhook "validate-delete.multipathwwids.multipath.kube-multipath.io" denied the request: multipathwwids.multipath.kube-multipath.io "lun-c" is forbidden: the LUN is used by PersistentVolumes pv-c-fc and pv-c-local: deleting it would remove /dev/mapper/backup from every node`,
				`set the annotation multipath.kube-multipath.io/force-remove=true to force the deletion`}},
		{name: "deleting a LUN a volume uses through a partition of its alias", do: deleteLUN("lun-a"),
			refused: []string{`"lun-a" is forbidden: the LUN is used by PersistentVolume pv-a-part: deleting it would remove /dev/mapper/oradata`}},
		{name: "deleting a LUN a CSI volume names", do: deleteLUN("lun-g"),
			refused: []string{`"lun-g" is forbidden: the LUN is used by PersistentVolume pv-g: deleting it would remove /dev/mapper/` + wwidG}},
		{name: "valid twin: deleting an unused LUN", do: deleteLUN("lun-b")},
		{name: "valid twin: deleting a used LUN with the force annotation", do: deleteLUN("lun-d"),
			warned: []string{`the LUN is used by PersistentVolume pv-d: deleting MultipathWWID lun-d removes /dev/mapper/scratch from every node`}},

		// The MultipathConfig: the overrides checker, line and rule.
		{name: "overrides with unbalanced braces", do: updateConfig(overrides("devices {\n\tdevice {\n\t\tvendor \"A\"\n\t\tproduct \"B\"\n\t}\n")),
			refused: []string{`admission webhook "validate.multipathconfigs.multipath.kube-multipath.io" denied the request: MultipathConfig.multipath.kube-multipath.io "cluster" is invalid`,
				`spec.overrides: Invalid value: line 1: unbalanced braces: "devices" opened here is never closed`}},
		{name: "overrides with an unknown section", do: updateConfig(overrides("hardware {\n}\n")),
			refused: []string{`line 1: unknown section "hardware"`}},
		{name: "overrides with an unknown keyword", do: updateConfig(overrides("overrides {\n\tno_path_retries 5\n}\n")),
			refused: []string{`line 2: unknown keyword "no_path_retries" in the overrides section`}},
		{name: "overrides setting user_friendly_names", do: updateConfig(overrides("overrides {\n\tuser_friendly_names yes\n}\n")),
			refused: []string{`line 2: keyword "user_friendly_names"`}},
		{name: "overrides setting find_multipaths", do: updateConfig(overrides("defaults {\n\tfind_multipaths greedy\n}\n")),
			refused: []string{`line 2: keyword "find_multipaths"`}},
		{name: "overrides with a multipaths section", do: updateConfig(overrides("multipaths {\n\tmultipath {\n\t\twwid \"3600a\"\n\t}\n}\n")),
			refused: []string{`line 1: the multipaths section is managed by kube-multipath: allow-list LUNs with MultipathWWID objects`}},
		{name: "overrides setting a keyword the API types", do: updateConfig(overrides("defaults {\n\tno_path_retry queue\n}\n")),
			refused: []string{`line 2: keyword "no_path_retry" is typed by the API: set spec.defaults.noPathRetry instead`}},
		{name: "overrides blacklisting an allow-listed WWID", do: updateConfig(overrides("blacklist {\n\twwid \"^3600a0980383030534530+c\"\n}\n")),
			refused: []string{`line 2: blacklist wwid "^3600a0980383030534530+c" matches the allow-listed WWID ` + wwidC + `: remove it, or add a blacklist_exceptions wwid`}},
		{name: "overrides blacklisting a WWID whose LUN is being deleted", do: updateConfig(overrides("blacklist {\n\twwid \"e005$\"\n}\n")),
			refused: []string{`matches the allow-listed WWID ` + wwidE}},
		{name: "valid twin: a blacklist the exceptions keep off the allow-listed WWIDs", do: updateConfig(overrides(
			"blacklist {\n\twwid \".*\"\n}\nblacklist_exceptions {\n\twwid \"^3600a098\"\n}\n"))},
		{name: "overrides with a value multipathd refuses", do: updateConfig(overrides("devices {\n\tdevice {\n\t\tvendor A\n\t\tproduct B\n\t\tno_path_retry 0\n\t}\n}\n")),
			refused: []string{`line 5: invalid value "0" for no_path_retry: must be queue, fail or a number from 1 to 1000000`}},
		{name: "overrides with a device section without a product", do: updateConfig(overrides("devices {\n\tdevice {\n\t\tvendor \"A\"\n\t}\n}\n")),
			refused: []string{`line 2: a device subsection needs a product`}},
		{name: "valid twin: a devices section multipathd accepts", do: updateConfig(overrides(
			"devices {\n\tdevice {\n\t\tvendor \"NETAPP\"\n\t\tproduct \"LUN.*\"\n\t\tno_path_retry queue\n\t}\n}\n"))},
		{name: "verbosity above what multipathd accepts (the CRD allows 6)", do: updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Defaults.Verbosity = ptr.To[int32](5) }),
			refused: []string{`spec.defaults.verbosity: Invalid value: 5`}},
		{name: "uxsockTimeout below what multipathd accepts (the CRD allows 100)", do: updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Defaults.UxsockTimeout = ptr.To[int32](1000) }),
			refused: []string{`spec.defaults.uxsockTimeout: Invalid value: 1000`}},
		{name: "valid twin: verbosity and uxsockTimeout at multipathd's limits", do: updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) {
			s.Defaults.Verbosity, s.Defaults.UxsockTimeout = ptr.To[int32](4), ptr.To[int32](4000)
		})},
		{name: "a config node selector Kubernetes refuses", do: updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.NodeSelector = badSelector() }),
			refused: []string{`spec.nodeSelector.matchExpressions[0].operator: Invalid value: "Near"`}},
		{name: "valid twin: pausing the rollout is admitted with a warning", do: updateConfig(func(s *mpv1alpha1.MultipathConfigSpec) { s.Rollout.Paused = true }),
			warned: []string{`spec.rollout.paused is true`}},
	}

	c, warnings := recordingClient(t)
	refusedCount := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warnings.take()
			err := tc.do(ctx, c)
			got := errorText(err)
			if len(tc.refused) == 0 && err != nil {
				t.Fatalf("refused: %s", got)
			}
			if len(tc.refused) > 0 {
				refusedCount++
				t.Logf("refused: %s", got)
				if err == nil {
					t.Fatalf("admitted, want refused with %q", tc.refused)
				}
				for _, want := range tc.refused {
					if !strings.Contains(got, want) {
						t.Errorf("message\n  %s\ndoes not contain\n  %s", got, want)
					}
				}
			}
			ws := strings.Join(warnings.take(), "\n")
			if ws != "" {
				t.Logf("warnings: %s", ws)
			}
			for _, want := range tc.warned {
				if !strings.Contains(ws, want) {
					t.Errorf("warnings\n  %s\ndo not contain\n  %s", ws, want)
				}
			}
			if len(tc.warned) == 0 && ws != "" {
				t.Errorf("unexpected warnings: %s", ws)
			}
		})
	}
	if refusedCount < 30 {
		t.Errorf("%d refused cases, want at least 30", refusedCount)
	}
}

func hasFinalizer(o metav1.Object, f string) bool {
	for _, have := range o.GetFinalizers() {
		if have == f {
			return true
		}
	}
	return false
}

// waitRendered waits until the render controller has put the named LUN's status in line with
// generation and returns it.
func waitRendered(t *testing.T, name string) *mpv1alpha1.MultipathWWID {
	t.Helper()
	w := &mpv1alpha1.MultipathWWID{}
	eventually(t, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, w); err != nil {
			return err
		}
		if w.Status.ObservedGeneration != w.Generation {
			return fmt.Errorf("%s: observed generation %d, generation %d", name, w.Status.ObservedGeneration, w.Generation)
		}
		return nil
	})
	return w
}

// renderedConfig returns the baseline file of the config the MultipathConfig names.
func renderedConfig(t *testing.T) string {
	t.Helper()
	cfg := &mpv1alpha1.MultipathConfig{}
	cm := &corev1.ConfigMap{}
	eventually(t, func() error {
		ctx := context.Background()
		if err := k8s.Get(ctx, client.ObjectKey{Name: mpv1alpha1.ClusterConfigName}, cfg); err != nil {
			return err
		}
		if cfg.Status.RenderedConfig == nil {
			return fmt.Errorf("nothing rendered yet")
		}
		return k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cfg.Status.RenderedConfig.Name}, cm)
	})
	return cm.Data["99-kube-multipath.conf"]
}

func intstrQueue() intstr.IntOrString { return intstr.FromString("queue") }
