//go:build cgo && rocketmq_dynamic

package capi

// -tags rocketmq_dynamic links librocketmq.so from lib/ (go/build-native.sh puts it there) and
// records that directory as the run path.

/*
#cgo LDFLAGS: -L${SRCDIR}/lib -lrocketmq -Wl,-rpath,${SRCDIR}/lib
*/
import "C"

// LinkInfo tells how the native library was linked.
const LinkInfo = "dynamic librocketmq.so from go/internal/capi/lib"
