//go:build tools

// Package tools makes `go mod tidy` keep etcd's dependencies.
package tools

import _ "go.etcd.io/etcd/server/v3"
