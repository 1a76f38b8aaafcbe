//go:build tools

// Package tools makes `go mod tidy` keep the dependencies of the node's and the control plane's
// other binaries, which `make e2e-cluster` runs (hack/e2e-cluster/k8s.sh builds them).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
