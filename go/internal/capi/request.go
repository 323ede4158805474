package capi

/*
#include <stdlib.h>
#include "CProducer.h"
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// Status codes of request-reply (CStatus).
const (
	StatusProducerRequestFailed  = 17
	StatusProducerRequestTimeout = 18
)

// Request sends msg as a request and waits up to timeout (sending included) for its reply.
// A reply that does not come in time is an *Error with StatusProducerRequestTimeout.
func (p *Producer) Request(msg *primitive.Message, timeout time.Duration) (*primitive.MessageExt, error) {
	m, err := newCMessage(msg)
	if err != nil {
		return nil, err
	}
	defer C.DestroyMessage(m)
	ms := timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if ms > int64(^uint32(0)>>1) {
		ms = int64(^uint32(0) >> 1)
	}
	var reply *C.CMessageExt
	if err := call("request", func() C.int { return C.RequestMessage(p.p, m, C.int(ms), &reply) }); err != nil {
		return nil, err
	}
	defer C.DestroyReplyMessage(reply)
	return goMessageExt(reply), nil
}

// CreateReplyMessage builds the reply to a received request message (the native library's
// rule: <cluster>_REPLY_TOPIC, the request's correlation id, requester and TTL, MSG_TYPE=reply).
func CreateReplyMessage(request *primitive.MessageExt, body []byte) (*primitive.Message, error) {
	req, err := newCMessage(&request.Message)
	if err != nil {
		return nil, err
	}
	defer C.DestroyMessage(req)
	var ptr *C.char
	if len(body) > 0 {
		ptr = (*C.char)(unsafe.Pointer(&body[0]))
	}
	lockThread()
	defer unlockThread()
	reply := C.CreateReplyMessage((*C.CMessageExt)(unsafe.Pointer(req)), ptr, C.int(len(body)))
	if reply == nil {
		return nil, lastError("create reply message")
	}
	defer C.DestroyMessage(reply)
	return goMessage(reply), nil
}
