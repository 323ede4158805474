// Package capi is the only cgo in this module: thin Go calls over librocketmq's C ABI
// (ffi/include). The public packages translate options and values; this package translates
// pointers, strings and status codes, and nothing more.
//
// Rules kept here: C never holds a Go pointer (user objects travel as cgo.Handle values);
// strings and bodies are copied in both directions; every status is turned into an error
// carrying GetLatestErrorMessage, read on the same OS thread as the call (it is thread-local);
// runtime.KeepAlive follows every call that used a Go-owned handle.
package capi

/*
#cgo CFLAGS: -I${SRCDIR}/../../../ffi/include
#include <stdlib.h>
#include <stdint.h>
#include "CCommon.h"
#include "CErrorMessage.h"

static void* rmq_handle_ptr(uintptr_t h) { return (void*)h; }
static uintptr_t rmq_ptr_handle(void* p) { return (uintptr_t)p; }
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// ABIVersion is the C ABI this package was written against (ROCKETMQ_RS_ABI_VERSION).
const ABIVersion = 1

func init() {
	if got := int(C.GetRocketMQAbiVersion()); got != ABIVersion || int(C.ROCKETMQ_RS_ABI_VERSION) != ABIVersion {
		panic(fmt.Sprintf("rocketmq: the linked librocketmq has C ABI version %d, the headers %d, this Go package "+
			"expects %d: rebuild the native library (go/build-native.sh) from the same checkout",
			got, int(C.ROCKETMQ_RS_ABI_VERSION), ABIVersion))
	}
}

// Version is the native library's version text.
func Version() string { return C.GoString(C.GetRocketMQVersion()) }

// Status codes (CStatus).
const (
	StatusOK                     = 0
	StatusNullPointer            = 1
	StatusPushConsumerNotRunning = 21
	StatusProducerStartFailed    = 10
)

// Error is a failed librocketmq call.
type Error struct {
	Op      string
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("rocketmq: %s failed (status %d)", e.Op, e.Status)
	}
	return fmt.Sprintf("rocketmq: %s: %s", e.Op, e.Message)
}

// call runs f on a locked OS thread and turns a non-zero status into an *Error with the
// thread's latest error message.
func call(op string, f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := int(f())
	if st == StatusOK {
		return nil
	}
	return &Error{Op: op, Status: st, Message: C.GoString(C.GetLatestErrorMessage())}
}

// lastError makes an *Error from the thread's latest error (for calls returning NULL); the
// caller has the OS thread locked.
func lastError(op string) error {
	return &Error{Op: op, Status: StatusNullPointer, Message: C.GoString(C.GetLatestErrorMessage())}
}

// cstr copies s into C memory; free it with C.free.
func cstr(s string) *C.char { return C.CString(s) }

func free(p *C.char) { C.free(unsafe.Pointer(p)) }

func handlePtr(h uintptr) unsafe.Pointer { return C.rmq_handle_ptr(C.uintptr_t(h)) }
func ptrHandle(p unsafe.Pointer) uintptr { return uintptr(C.rmq_ptr_handle(p)) }

func lockThread()   { runtime.LockOSThread() }
func unlockThread() { runtime.UnlockOSThread() }
