//go:build !cgo

package capi

// This package wraps the native librocketmq and cannot be built without cgo. The undefined
// name below makes the compiler say so:
//
//	undefined: rocketmq_rs_go_requires_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler
var _ = rocketmq_rs_go_requires_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler
