//go:build cgo && !rocketmq_dynamic

package capi

// The static library, installed into lib/ by go/build-native.sh. The system libraries after it
// are what rustc prints for the Rust archive (--print native-static-libs) on glibc.

/*
#cgo LDFLAGS: ${SRCDIR}/lib/librocketmq.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"

// LinkInfo tells how the native library was linked.
const LinkInfo = "static librocketmq.a from go/internal/capi/lib"
