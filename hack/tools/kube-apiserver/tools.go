//go:build tools

// Package tools makes `go mod tidy` keep kube-apiserver's dependencies.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
