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

package consumers

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mpv1alpha1 "github.com/kube-multipath/kube-multipath/api/v1alpha1"
)

// Real WWIDs from shared/fixtures/multipathd.
const (
	ibm    = "360050768029b8168e000000000006247"
	huawei = "368caaaaaaaaae2069fb9e3e1000001c4"
	nvme   = "eui.00253885910c8ec2"
)

type pvOption func(*corev1.PersistentVolume)

func pv(name string, opts ...pvOption) *corev1.PersistentVolume {
	p := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withFC(wwids ...string) pvOption {
	return func(p *corev1.PersistentVolume) { p.Spec.FC = &corev1.FCVolumeSource{WWIDs: wwids} }
}

func withLocal(path string) pvOption {
	return func(p *corev1.PersistentVolume) { p.Spec.Local = &corev1.LocalVolumeSource{Path: path} }
}

func withCSI(kv ...string) pvOption {
	return func(p *corev1.PersistentVolume) {
		attrs := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			attrs[kv[i]] = kv[i+1]
		}
		p.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "block.csi.example.com", VolumeHandle: "vol-1", VolumeAttributes: attrs}
	}
}

// withHandle makes a CSI volume with this handle and no attributes.
func withHandle(h string) pvOption {
	return func(p *corev1.PersistentVolume) {
		p.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "block.csi.example.com", VolumeHandle: h}
	}
}

// withISCSI makes an iSCSI volume: a portal, an IQN and a LUN number, no WWID.
func withISCSI() pvOption {
	return func(p *corev1.PersistentVolume) {
		p.Spec.ISCSI = &corev1.ISCSIPersistentVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2003-01.org.linux-iscsi.target:sn.1", Lun: 0}
	}
}

func withAnnotation(key, value string) pvOption {
	return func(p *corev1.PersistentVolume) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[key] = value
	}
}

var allowList = []LUN{
	{WWID: ibm, Alias: "db-data"},
	{WWID: strings.ToUpper(huawei)},
	{WWID: nvme, Alias: "Logs"},
	{WWID: "3600a098038303053453f463045727a4d", Alias: "backup"},
}

func TestWWIDsOf(t *testing.T) {
	tests := map[string]struct {
		luns []LUN
		pv   *corev1.PersistentVolume
		want []string
	}{
		"a PV with no volume source and no annotation consumes nothing": {
			pv: pv("pv-empty"),
		},
		"a nil PV consumes nothing": {},
		"an fc.wwids entry names a WWID exactly, NAA digit included": {
			pv:   pv("pv-fc", withFC(ibm)),
			want: []string{ibm},
		},
		"fc.wwids are compared case-insensitively and answered in the allow-list's spelling": {
			pv:   pv("pv-fc-case", withFC(strings.ToUpper(ibm), huawei)),
			want: []string{ibm, strings.ToUpper(huawei)},
		},
		"an fc.wwids entry without the leading 3 does not match": {
			pv: pv("pv-fc-nonaa", withFC(strings.TrimPrefix(ibm, "3"))),
		},
		"fc targetWWNs and lun name no WWID": {
			pv: pv("pv-fc-wwn", func(p *corev1.PersistentVolume) {
				p.Spec.FC = &corev1.FCVolumeSource{TargetWWNs: []string{"50060e801049cfd1"}, Lun: new(int32(0))}
			}),
		},
		"an unlisted fc WWID is ignored while a listed one matches": {
			pv:   pv("pv-fc-mixed", withFC("3600000000000000000000000000000ff", ibm)),
			want: []string{ibm},
		},
		"local path /dev/mapper/<wwid> matches": {
			pv:   pv("pv-local", withLocal("/dev/mapper/"+huawei)),
			want: []string{strings.ToUpper(huawei)},
		},
		"local path /dev/mapper/<alias> matches the aliased WWID": {
			pv:   pv("pv-local-alias", withLocal("/dev/mapper/db-data")),
			want: []string{ibm},
		},
		"aliases are compared case-insensitively": {
			pv:   pv("pv-local-alias-case", withLocal("/dev/mapper/logs")),
			want: []string{nvme},
		},
		"local path /dev/disk/by-id/dm-uuid-mpath-<wwid> matches": {
			pv:   pv("pv-byuuid", withLocal("/dev/disk/by-id/dm-uuid-mpath-"+ibm)),
			want: []string{ibm},
		},
		"local path /dev/disk/by-id/dm-uuid-mpath-<alias> does not match: the DM UUID holds the WWID": {
			pv: pv("pv-byuuid-alias", withLocal("/dev/disk/by-id/dm-uuid-mpath-db-data")),
		},
		"local path /dev/disk/by-id/dm-name-<alias> matches": {
			pv:   pv("pv-byname", withLocal("/dev/disk/by-id/dm-name-backup")),
			want: []string{"3600a098038303053453f463045727a4d"},
		},
		"an uncleaned local path matches once cleaned": {
			pv:   pv("pv-unclean", withLocal("/dev//mapper/./db-data/")),
			want: []string{ibm},
		},
		"a local path that climbs out of /dev/mapper does not match": {
			pv: pv("pv-escape", withLocal("/dev/mapper/../"+ibm)),
		},
		"a local directory that merely contains the WWID does not match": {
			pv: pv("pv-dir", withLocal("/mnt/disks/"+ibm)),
		},
		"a kpartx partition <alias>-part1 consumes the parent LUN": {
			pv:   pv("pv-part", withLocal("/dev/mapper/db-data-part1")),
			want: []string{ibm},
		},
		"a kpartx partition <wwid>p2 consumes the parent LUN": {
			pv:   pv("pv-part-p", withLocal("/dev/mapper/"+huawei+"p2")),
			want: []string{strings.ToUpper(huawei)},
		},
		"a partition DM UUID dm-uuid-part1-mpath-<wwid> consumes the parent LUN": {
			pv:   pv("pv-part-uuid", withLocal("/dev/disk/by-id/dm-uuid-part1-mpath-"+ibm)),
			want: []string{ibm},
		},
		"an alias ending in p1 matches itself before any partition parent": {
			luns: []LUN{{WWID: "3600000000000000000000000000000aa", Alias: "vol"}, {WWID: "3600000000000000000000000000000bb", Alias: "volp1"}},
			pv:   pv("pv-volp1", withLocal("/dev/mapper/volp1")),
			want: []string{"3600000000000000000000000000000bb"},
		},
		"a CSI attribute equal to a WWID matches, whatever its key": {
			pv:   pv("pv-csi", withCSI("fsType", "xfs", "lunWWID", strings.ToUpper(nvme))),
			want: []string{nvme},
		},
		"a CSI attribute that is a multipath device path matches": {
			pv:   pv("pv-csi-path", withCSI("devicePath", "/dev/mapper/backup")),
			want: []string{"3600a098038303053453f463045727a4d"},
		},
		"a CSI attribute equal to an alias does not match: aliases are free words": {
			pv: pv("pv-csi-alias", withCSI("pool", "backup")),
		},
		"a CSI attribute that only contains a WWID does not match": {
			pv: pv("pv-csi-substr", withCSI("serial", "naa."+ibm)),
		},
		"a by-id scsi-<wwid> link names the WWID as it is": {
			pv:   pv("pv-scsi", withLocal("/dev/disk/by-id/scsi-"+ibm)),
			want: []string{ibm},
		},
		"a by-id scsi- link's partition consumes the LUN": {
			pv:   pv("pv-scsi-part", withLocal("/dev/disk/by-id/scsi-"+huawei+"-part2")),
			want: []string{strings.ToUpper(huawei)},
		},
		"a by-id scsi- link without the NAA digit does not match": {
			pv: pv("pv-scsi-nonaa", withLocal("/dev/disk/by-id/scsi-"+strings.TrimPrefix(ibm, "3"))),
		},
		"a by-id wwn-0x<naa> link is the WWID with the NAA type digit 3 put back": {
			pv:   pv("pv-wwn", withLocal("/dev/disk/by-id/wwn-0x"+strings.TrimPrefix(ibm, "3"))),
			want: []string{ibm},
		},
		"a by-id wwn- link's partition consumes the LUN": {
			pv:   pv("pv-wwn-part", withCSI("devicePath", "/dev/disk/by-id/wwn-0x"+strings.ToUpper(strings.TrimPrefix(huawei, "3"))+"-part1")),
			want: []string{strings.ToUpper(huawei)},
		},
		"a by-id wwn- link holding the whole WWID (3 included) does not match": {
			pv: pv("pv-wwn-3", withLocal("/dev/disk/by-id/wwn-0x"+ibm)),
		},
		"a by-id wwn- link that is not hex is no NAA": {
			pv: pv("pv-wwn-text", withLocal("/dev/disk/by-id/wwn-0xdb-data")),
		},
		"a CSI volume handle equal to the WWID matches": {
			pv:   pv("pv-handle", withHandle(strings.ToUpper(ibm))),
			want: []string{ibm},
		},
		"a CSI volume handle ending in the WWID after a colon matches": {
			pv:   pv("pv-handle-colon", withHandle("FlashSystem:vol7:"+huawei)),
			want: []string{strings.ToUpper(huawei)},
		},
		"a CSI volume handle ending in the WWID after a slash matches": {
			pv:   pv("pv-handle-slash", withHandle("pool-a/"+ibm)),
			want: []string{ibm},
		},
		"a CSI volume handle equal to an NVMe eui. WWID matches": {
			pv:   pv("pv-handle-nvme", withHandle(nvme)),
			want: []string{nvme},
		},
		"a CSI volume handle naming the WWID in its middle does not match": {
			pv: pv("pv-handle-mid", withHandle(ibm+":vol7")),
		},
		"a CSI volume handle holding the NAA without its 3 does not match": {
			pv: pv("pv-handle-nonaa", withHandle("array1:"+strings.TrimPrefix(ibm, "3"))),
		},
		"a CSI volume handle equal to an alias does not match": {
			pv: pv("pv-handle-alias", withHandle("backup")),
		},
		"a short hex WWID in a handle is not read: only device identifiers are": {
			luns: []LUN{{WWID: "3600a0980000"}},
			pv:   pv("pv-handle-short", withHandle("3600a0980000")),
		},
		"an iSCSI volume names no WWID in its spec": {
			pv: pv("pv-iscsi", withISCSI()),
		},
		"an iSCSI volume is recognised by the WWID annotation": {
			pv:   pv("pv-iscsi-ann", withISCSI(), withAnnotation(mpv1alpha1.WWIDAnnotation, huawei)),
			want: []string{strings.ToUpper(huawei)},
		},
		"the WWID annotation names one WWID": {
			pv:   pv("pv-ann", withAnnotation(mpv1alpha1.WWIDAnnotation, ibm)),
			want: []string{ibm},
		},
		"the WWID annotation is a comma-separated list, blanks ignored": {
			pv:   pv("pv-ann-list", withAnnotation(mpv1alpha1.WWIDAnnotation, " "+huawei+" ,, "+strings.ToUpper(nvme)+",")),
			want: []string{strings.ToUpper(huawei), nvme},
		},
		"the WWID annotation does not take aliases": {
			pv: pv("pv-ann-alias", withAnnotation(mpv1alpha1.WWIDAnnotation, "db-data")),
		},
		"another annotation holding a WWID is ignored": {
			pv: pv("pv-other-ann", withAnnotation("example.com/wwid", ibm)),
		},
		"every source at once gives each WWID once, sorted": {
			pv: pv("pv-all",
				withFC(ibm),
				withLocal("/dev/mapper/db-data"),
				withCSI("wwid", nvme),
				withAnnotation(mpv1alpha1.WWIDAnnotation, nvme+","+strings.ToUpper(ibm)),
			),
			want: []string{ibm, nvme},
		},
		"a name equal to one LUN's WWID and another's alias resolves to the WWID": {
			luns: []LUN{{WWID: "3600000000000000000000000000000aa", Alias: "3600000000000000000000000000000bb"}, {WWID: "3600000000000000000000000000000bb"}},
			pv:   pv("pv-shadow", withLocal("/dev/mapper/3600000000000000000000000000000bb")),
			want: []string{"3600000000000000000000000000000bb"},
		},
		"the first of two LUNs claiming one WWID wins": {
			luns: []LUN{{WWID: "3600000000000000000000000000000AA"}, {WWID: "3600000000000000000000000000000aa"}},
			pv:   pv("pv-dup", withFC("3600000000000000000000000000000aa")),
			want: []string{"3600000000000000000000000000000AA"},
		},
		"a LUN with an empty WWID is not indexed": {
			luns: []LUN{{WWID: "", Alias: "ghost"}},
			pv:   pv("pv-ghost", withLocal("/dev/mapper/ghost")),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			luns := tc.luns
			if luns == nil {
				luns = allowList
			}
			ix := NewIndex(luns)
			got := ix.WWIDsOf(tc.pv)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("WWIDsOf = %q, want %q", got, tc.want)
			}
			// The cache keeps only Minimal(pv): it must give the same answer.
			if got := ix.WWIDsOf(Minimal(tc.pv)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("WWIDsOf(Minimal) = %q, want %q", got, tc.want)
			}
			// Every consumed WWID or its alias is among the PV's index keys.
			refs := Refs(tc.pv)
			for _, w := range got {
				if !containsAny(refs, luns, w) {
					t.Errorf("Refs = %q holds no key of consumed WWID %s", refs, w)
				}
			}
		})
	}
}

func containsAny(refs []string, luns []LUN, wwid string) bool {
	for _, l := range luns {
		if l.WWID != wwid {
			continue
		}
		for _, r := range refs {
			if r == Key(l.WWID) || (l.Alias != "" && r == Key(l.Alias)) {
				return true
			}
		}
	}
	return false
}

func TestNewIndexLen(t *testing.T) {
	tests := map[string]struct {
		luns []LUN
		want int
	}{
		"an empty allow-list indexes nothing":              {want: 0},
		"each distinct WWID counts once":                   {luns: allowList, want: 4},
		"WWIDs differing only in case count once":          {luns: []LUN{{WWID: "3ABC"}, {WWID: "3abc"}}, want: 1},
		"an entry without a WWID is skipped, alias or not": {luns: []LUN{{Alias: "a"}, {WWID: "3abc"}}, want: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NewIndex(tc.luns).Len(); got != tc.want {
				t.Errorf("Len = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	tests := map[string]struct {
		pv   *corev1.PersistentVolume
		want []string
	}{
		"a nil PV has no references": {},
		"a PV naming nothing has no references": {
			pv: pv("pv-nfs", func(p *corev1.PersistentVolume) {
				p.Spec.NFS = &corev1.NFSVolumeSource{Server: "nfs", Path: "/export"}
			}),
		},
		"fc WWIDs are lowercased and trimmed": {
			pv:   pv("pv-fc", withFC(" "+strings.ToUpper(ibm)+" ")),
			want: []string{ibm},
		},
		"a mapper path gives the map name, lowercased": {
			pv:   pv("pv-local", withLocal("/dev/mapper/DB-Data")),
			want: []string{"db-data"},
		},
		"a partition gives its own name and its parent's": {
			pv:   pv("pv-part", withLocal("/dev/mapper/db-data-part3")),
			want: []string{"db-data", "db-data-part3"},
		},
		"a by-uuid path gives the WWID": {
			pv:   pv("pv-uuid", withLocal("/dev/disk/by-id/dm-uuid-part2-mpath-"+strings.ToUpper(huawei))),
			want: []string{huawei},
		},
		"a malformed partition DM UUID gives nothing": {
			pv: pv("pv-uuid-bad", withLocal("/dev/disk/by-id/dm-uuid-partX-mpath-"+huawei)),
		},
		"a path outside /dev gives nothing": {
			pv: pv("pv-mnt", withLocal("/mnt/"+ibm)),
		},
		"CSI values that cannot be WWIDs are left out of the index": {
			pv:   pv("pv-csi", withCSI("a", "has space", "b", strings.Repeat("x", 129), "c", "ok-Value", "d", "", "e", "/dev/mapper/Logs")),
			want: []string{"logs", "ok-value"},
		},
		"by-id links give the WWID, and a partition link its LUN's too": {
			pv:   pv("pv-byid", withLocal("/dev/disk/by-id/wwn-0x"+strings.TrimPrefix(ibm, "3")+"-part1")),
			want: []string{ibm, ibm + "-part1"},
		},
		"a CSI volume handle gives the whole handle and its last segment when they are WWIDs": {
			pv:   pv("pv-handle", withHandle("Pool:"+strings.ToUpper(huawei))),
			want: []string{huawei},
		},
		"a UUID or a name as CSI volume handle gives nothing: such volumes stay out of the index": {
			pv: pv("pv-uuid-handle", withHandle("0b7a6c1e-1111-2222-3333-444455556666")),
		},
		"annotation entries are split, trimmed, lowercased and deduplicated": {
			pv:   pv("pv-ann", withFC(ibm), withAnnotation(mpv1alpha1.WWIDAnnotation, strings.ToUpper(ibm)+", "+nvme)),
			want: []string{ibm, nvme},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Refs(tc.pv); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Refs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPartitionParent(t *testing.T) {
	tests := map[string]struct {
		name string
		want string
	}{
		"-part<N> names the parent before it":                             {name: "data-part12", want: "data"},
		"p<N> names the parent before it":                                 {name: "3600a0p1", want: "3600a0"},
		"a name without trailing digits is no part":                       {name: "data", want: ""},
		"a name of digits only is no part":                                {name: "1234", want: ""},
		"trailing digits without a delimiter are ambiguous and not taken": {name: "data1", want: ""},
		"a bare -part<N> has no parent":                                   {name: "-part1", want: ""},
		"a bare p<N> has no parent":                                       {name: "p1", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := partitionParent(tc.name); got != tc.want {
				t.Errorf("partitionParent(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

func fullPV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{Kind: "PersistentVolume", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            "pv-full",
			UID:             types.UID("0b7a6c1e-1111-2222-3333-444455556666"),
			ResourceVersion: "4711",
			Generation:      2,
			Labels:          map[string]string{"tier": "db"},
			Annotations: map[string]string{
				mpv1alpha1.WWIDAnnotation:                          ibm,
				"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("{}", 1000),
				"pv.kubernetes.io/provisioned-by":                  "block.csi.example.com",
			},
			Finalizers:    []string{"kubernetes.io/pv-protection"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			ClaimRef:    &corev1.ObjectReference{Namespace: "db", Name: "data"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				FC:    &corev1.FCVolumeSource{WWIDs: []string{huawei}, TargetWWNs: []string{"50060e801049cfd1"}, FSType: "xfs"},
				Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/db-data", FSType: new("ext4")},
				CSI: &corev1.CSIPersistentVolumeSource{
					Driver: "block.csi.example.com", VolumeHandle: "vol-1", FSType: "xfs",
					VolumeAttributes:           map[string]string{"wwid": nvme},
					NodeStageSecretRef:         &corev1.SecretReference{Name: "chap"},
					ControllerPublishSecretRef: &corev1.SecretReference{Name: "array"},
				},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-a"}}},
			}}}},
			StorageClassName:              "san",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			MountOptions:                  []string{"noatime"},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound, Message: "bound"},
	}
}

func TestMinimal(t *testing.T) {
	tests := map[string]struct {
		pv   *corev1.PersistentVolume
		want *corev1.PersistentVolume
	}{
		"keeps identity, the WWID annotation, the referencing fields and node affinity, drops the rest": {
			pv: fullPV(),
			want: &corev1.PersistentVolume{
				TypeMeta: metav1.TypeMeta{Kind: "PersistentVolume", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{
					Name:            "pv-full",
					UID:             types.UID("0b7a6c1e-1111-2222-3333-444455556666"),
					ResourceVersion: "4711",
					Annotations:     map[string]string{mpv1alpha1.WWIDAnnotation: ibm},
				},
				Spec: corev1.PersistentVolumeSpec{
					PersistentVolumeSource: corev1.PersistentVolumeSource{
						FC:    &corev1.FCVolumeSource{WWIDs: []string{huawei}},
						Local: &corev1.LocalVolumeSource{Path: "/dev/mapper/db-data"},
						CSI:   &corev1.CSIPersistentVolumeSource{VolumeAttributes: map[string]string{"wwid": nvme}},
					},
					NodeAffinity: fullPV().Spec.NodeAffinity,
				},
			},
		},
		"drops volume sources that name nothing and leaves annotations nil without the WWID annotation": {
			pv: pv("pv-bare",
				withAnnotation("other", "x"),
				withFC(),
				func(p *corev1.PersistentVolume) {
					p.Spec.Local = &corev1.LocalVolumeSource{}
					p.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h"}
				}),
			want: pv("pv-bare"),
		},
		"keeps a CSI volume handle that names a WWID, without the driver": {
			pv: pv("pv-handle", withHandle("array1:"+ibm)),
			want: pv("pv-handle", func(p *corev1.PersistentVolume) {
				p.Spec.CSI = &corev1.CSIPersistentVolumeSource{VolumeHandle: "array1:" + ibm}
			}),
		},
		"keeps an empty WWID annotation, as it was set": {
			pv:   pv("pv-ann-empty", withAnnotation(mpv1alpha1.WWIDAnnotation, "")),
			want: pv("pv-ann-empty", withAnnotation(mpv1alpha1.WWIDAnnotation, "")),
		},
		"nil stays nil": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var before *corev1.PersistentVolume
			if tc.pv != nil {
				before = tc.pv.DeepCopy()
			}
			got := Minimal(tc.pv)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Minimal =\n%+v\nwant\n%+v", got, tc.want)
			}
			if !reflect.DeepEqual(tc.pv, before) {
				t.Error("Minimal changed its input")
			}
			if again := Minimal(got); !reflect.DeepEqual(again, got) {
				t.Errorf("Minimal is not idempotent:\n%+v\nthen\n%+v", got, again)
			}
		})
	}
}

func TestMinimalSharesNothingWithItsInput(t *testing.T) {
	in := fullPV()
	out := Minimal(in)
	in.Annotations[mpv1alpha1.WWIDAnnotation] = "changed"
	in.Spec.FC.WWIDs[0] = "changed"
	in.Spec.CSI.VolumeAttributes["wwid"] = "changed"
	in.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] = "changed"
	if !reflect.DeepEqual(out, Minimal(fullPV())) {
		t.Errorf("changing the input changed Minimal's output: %+v", out)
	}
}

func TestTransform(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{"a": "b"}}}
	tombstone := struct{ Key string }{Key: "pv-gone"}
	tests := map[string]struct {
		in   any
		want any
	}{
		"a PersistentVolume is made minimal":               {in: fullPV(), want: Minimal(fullPV())},
		"an already minimal PersistentVolume is unchanged": {in: Minimal(fullPV()), want: Minimal(fullPV())},
		"another kind passes through untouched":            {in: node, want: node},
		"a tombstone passes through untouched":             {in: tombstone, want: tombstone},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Transform(tc.in)
			if err != nil {
				t.Fatalf("Transform error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Transform = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// BenchmarkWWIDsOf matches 10,000 PersistentVolumes against an allow-list of 10,000 LUNs, one
// full pass per iteration. The PVs mix every reference kind; a quarter name an unlisted LUN.
func BenchmarkWWIDsOf(b *testing.B) {
	const n = 10000
	luns := make([]LUN, n)
	for i := range luns {
		luns[i] = LUN{WWID: fmt.Sprintf("3600a0980383030%017x", i), Alias: fmt.Sprintf("lun-%05d", i)}
	}
	pvs := make([]*corev1.PersistentVolume, n)
	for i := range pvs {
		w := luns[i].WWID
		if i%4 == 3 {
			w = fmt.Sprintf("3600b0000000000%017x", i) // not allow-listed
		}
		switch i % 4 {
		case 0:
			pvs[i] = pv("pv", withFC(strings.ToUpper(w)))
		case 1:
			pvs[i] = pv("pv", withLocal("/dev/mapper/"+luns[i].Alias))
		case 2:
			pvs[i] = pv("pv", withCSI("fsType", "xfs", "wwid", w, "pool", "gold"), withAnnotation(mpv1alpha1.WWIDAnnotation, w))
		case 3:
			pvs[i] = pv("pv", withFC(w), withAnnotation("other", "x"))
		}
	}
	ix := NewIndex(luns)
	b.ReportAllocs()
	b.ResetTimer()
	matched := 0
	for b.Loop() {
		matched = 0
		for _, p := range pvs {
			matched += len(ix.WWIDsOf(p))
		}
	}
	b.StopTimer()
	if matched != n*3/4 {
		b.Fatalf("matched %d PVs, want %d", matched, n*3/4)
	}
}

// BenchmarkNewIndex builds the index of 10,000 LUNs.
func BenchmarkNewIndex(b *testing.B) {
	luns := make([]LUN, 10000)
	for i := range luns {
		luns[i] = LUN{WWID: fmt.Sprintf("3600a0980383030%017x", i), Alias: fmt.Sprintf("lun-%05d", i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(luns)
	}
}
