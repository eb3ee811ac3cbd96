//go:build tools

// Package envtest pins the control-plane binaries the operator tests run
// (kube-apiserver, etcd) and controller-gen in a module of their own, so that
// k8s.io/kubernetes and its 33 staging replaces never reach the main module.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
