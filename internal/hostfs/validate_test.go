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

package hostfs

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf"
	"github.com/kube-multipath/kube-multipath/internal/multipathconf/mptest"
)

// The real parser runs with Root "/": this machine's multipath binary, with the test host's
// /etc/multipath (current) or the candidate bind-mounted over /etc/multipath in a private
// mount namespace.
func realParserHost(t *testing.T, opts ...hostOption) *testHost {
	t.Helper()
	mptest.RequireAvailable(t)
	th := newHost(t, opts...)
	th.Validator = &ParserValidator{Root: "/"}
	return th
}

func TestRealParserRefusesACandidateAndNothingIsWritten(t *testing.T) {
	t.Parallel()
	th := realParserHost(t, handMadeHost)
	before := th.files(t)
	good := render(t, wwidA)
	bad := &multipathconf.Rendered{
		Hash: good.Hash,
		Files: append([]multipathconf.File{{Name: overridesName, Content: "defaults {\n\tno_such_keyword yes\n}\n"}},
			good.Files...),
		WWIDs: good.WWIDs,
	}
	_, err := th.Apply(context.Background(), bad)
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Step != StepValidate || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Apply error = %v, want the real parser's refusal", err)
	}
	if !strings.Contains(err.Error(), "no_such_keyword") {
		t.Errorf("error %q does not quote the parser", err)
	}
	if after := th.files(t); !maps.Equal(before, after) {
		t.Errorf("a refused candidate reached the disk:\n%v", after)
	}
	if cmds := th.daemon.Commands(); len(cmds) > 0 {
		t.Errorf("a refused candidate reached multipathd: %v", cmds)
	}
}

func TestRealParserAcceptsTheRenderedConfig(t *testing.T) {
	t.Parallel()
	th := realParserHost(t, handMadeHost)
	cfg := &mpv1alpha1.MultipathConfig{
		ObjectMeta: metav1.ObjectMeta{Name: mpv1alpha1.ClusterConfigName},
		Spec:       mpv1alpha1.MultipathConfigSpec{Overrides: "overrides {\n\tno_path_retry 12\n}\n"},
	}
	r, err := multipathconf.Render(cfg, []mpv1alpha1.MultipathWWID{{
		ObjectMeta: metav1.ObjectMeta{Name: "lun-a"},
		Spec:       mpv1alpha1.MultipathWWIDSpec{WWID: wwidA, Alias: "data-a"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := mustApply(t, th, r)
	if !res.Validated {
		t.Errorf("not validated: %s", res.ValidationSkipped)
	}
	t.Logf("apply with the real parser took %s", time.Since(start))
	if got := th.read(t, ConfDir+"/"+overridesName); got != "overrides {\n\tno_path_retry 12\n}\n" {
		t.Errorf("overrides = %q", got)
	}
}

// A host drop-in the parser already complains about does not block the agent's config; a
// new complaint does.
func TestRealParserHoldsOnlyNewComplaintsAgainstTheCandidate(t *testing.T) {
	t.Parallel()
	th := realParserHost(t, withFile(foreignDropIn, "defaults {\n\thost_typo yes\n}\n"))
	mustApply(t, th, render(t, wwidA))

	bad := render(t, wwidA)
	bad.Files = append(bad.Files, multipathconf.File{Name: overridesName, Content: "defaults {\n\tagent_typo yes\n}\n"})
	_, err := th.Apply(context.Background(), bad)
	if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), "host_typo") || !strings.Contains(err.Error(), "agent_typo") {
		t.Errorf("Apply error = %v, want a refusal naming agent_typo only", err)
	}
}

func TestWithoutAParserTheApplyGoesOnUnvalidated(t *testing.T) {
	t.Parallel()
	th := newHost(t)
	th.Validator = &ParserValidator{Root: t.TempDir()} // no multipath binary there
	res := mustApply(t, th, render(t, wwidA))
	if res.Validated || !strings.Contains(res.ValidationSkipped, "no multipath binary") {
		t.Errorf("result = %+v", res)
	}
}
