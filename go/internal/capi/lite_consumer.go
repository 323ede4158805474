package capi

/*
#include <stdlib.h>
#include "CLitePullConsumer.h"
#include "CPullConsumer.h"
#include "CErrorMessage.h"
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// LiteConsumer is a native lite pull consumer.
type LiteConsumer struct {
	c *C.CLitePullConsumer
}

// NewLiteConsumer creates and configures a lite pull consumer (not started).
func NewLiteConsumer(cfg ConsumerConfig) (*LiteConsumer, error) {
	g := cstr(cfg.Group)
	defer free(g)
	c := C.CreateLitePullConsumer(g)
	if c == nil {
		return nil, &Error{Op: "create pull consumer", Status: StatusNullPointer, Message: "cannot create a consumer"}
	}
	lc := &LiteConsumer{c: c}
	ns := cstr(cfg.NameServers)
	defer free(ns)
	model := C.CLUSTERING
	if cfg.Broadcasting {
		model = C.BROADCASTING
	}
	steps := []func() C.int{
		func() C.int { return C.SetLitePullConsumerNameServerAddress(c, ns) },
		func() C.int {
			return C.SetLitePullConsumerConsumeFromWhere(c, C.CConsumeFromWhere(cfg.ConsumeFromWhere))
		},
		func() C.int { return C.SetLitePullConsumerMessageModel(c, C.CMessageModel(model)) },
		func() C.int { return C.SetLitePullConsumerAutoCommit(c, boolInt(cfg.AutoCommit)) },
	}
	if cfg.PullBatchSize > 0 {
		steps = append(steps, func() C.int { return C.SetLitePullConsumerPullBatchSize(c, C.int(cfg.PullBatchSize)) })
	}
	if cfg.ConsumeTimestampMs > 0 {
		steps = append(steps, func() C.int { return C.SetLitePullConsumerConsumeTimestamp(c, C.longlong(cfg.ConsumeTimestampMs)) })
	}
	for _, f := range steps {
		if err := call("configure pull consumer", f); err != nil {
			lc.Destroy()
			return nil, err
		}
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		ak, sk := cstr(cfg.AccessKey), cstr(cfg.SecretKey)
		err := call("credentials", func() C.int { return C.SetLitePullConsumerSessionCredentials(c, ak, sk) })
		free(ak)
		free(sk)
		if err != nil {
			lc.Destroy()
			return nil, err
		}
	}
	return lc, nil
}

func (lc *LiteConsumer) Subscribe(s Subscription) error {
	t, e := cstr(s.Topic), cstr(s.Expression)
	defer free(t)
	defer free(e)
	if s.SQL92 {
		return call("subscribe", func() C.int { return C.LitePullConsumerSubscribeSQL92(lc.c, t, e) })
	}
	return call("subscribe", func() C.int { return C.LitePullConsumerSubscribe(lc.c, t, e) })
}

func (lc *LiteConsumer) Assign(mqs []*primitive.MessageQueue) error {
	n := len(mqs)
	var arr *C.CMessageQueue
	if n > 0 {
		arr = (*C.CMessageQueue)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.CMessageQueue{}))))
		defer C.free(unsafe.Pointer(arr))
		items := unsafe.Slice(arr, n)
		for i, q := range mqs {
			items[i] = cQueue(q)
		}
	}
	return call("assign", func() C.int { return C.LitePullConsumerAssign(lc.c, arr, C.int(n)) })
}

func (lc *LiteConsumer) Start() error {
	return call("start pull consumer", func() C.int { return C.StartLitePullConsumer(lc.c) })
}

func (lc *LiteConsumer) Shutdown() error {
	return call("shutdown pull consumer", func() C.int { return C.ShutdownLitePullConsumer(lc.c) })
}

func (lc *LiteConsumer) Destroy() {
	if lc.c != nil {
		C.DestroyLitePullConsumer(lc.c)
		lc.c = nil
	}
}

// Poll waits up to timeout for messages (none on timeout).
func (lc *LiteConsumer) Poll(timeout time.Duration) ([]*primitive.MessageExt, error) {
	var arr **C.CMessageExt
	var n C.int
	if err := call("poll", func() C.int { return C.LitePullConsumerPoll(lc.c, C.int(timeout.Milliseconds()), &arr, &n) }); err != nil {
		return nil, err
	}
	if arr == nil {
		return nil, nil
	}
	defer C.ReleaseLitePullMessages(arr)
	items := unsafe.Slice(arr, int(n))
	out := make([]*primitive.MessageExt, 0, int(n))
	for _, m := range items {
		out = append(out, goMessageExt(m))
	}
	return out, nil
}

func (lc *LiteConsumer) withQueue(op string, mq *primitive.MessageQueue, f func(*C.CMessageQueue) C.int) error {
	q := (*C.CMessageQueue)(C.malloc(C.size_t(unsafe.Sizeof(C.CMessageQueue{}))))
	defer C.free(unsafe.Pointer(q))
	*q = cQueue(mq)
	return call(op, func() C.int { return f(q) })
}

func (lc *LiteConsumer) CommitSync() error {
	return call("commit", func() C.int { return C.LitePullConsumerCommitSync(lc.c) })
}

func (lc *LiteConsumer) Commit(mq *primitive.MessageQueue, offset int64) error {
	return lc.withQueue("commit", mq, func(q *C.CMessageQueue) C.int { return C.LitePullConsumerCommit(lc.c, q, C.longlong(offset)) })
}

func (lc *LiteConsumer) Committed(mq *primitive.MessageQueue) (int64, error) {
	var off C.longlong
	err := lc.withQueue("committed offset", mq, func(q *C.CMessageQueue) C.int { return C.LitePullConsumerCommitted(lc.c, q, &off) })
	return int64(off), err
}

func (lc *LiteConsumer) Seek(mq *primitive.MessageQueue, offset int64) error {
	return lc.withQueue("seek", mq, func(q *C.CMessageQueue) C.int { return C.LitePullConsumerSeek(lc.c, q, C.longlong(offset)) })
}

func (lc *LiteConsumer) OffsetForTimestamp(mq *primitive.MessageQueue, ts int64) (int64, error) {
	var off C.longlong
	err := lc.withQueue("offset for timestamp", mq, func(q *C.CMessageQueue) C.int {
		return C.LitePullConsumerOffsetForTimestamp(lc.c, q, C.longlong(ts), &off)
	})
	return int64(off), err
}

func (lc *LiteConsumer) Queues(topic string) ([]*primitive.MessageQueue, error) {
	t := cstr(topic)
	defer free(t)
	var arr *C.CMessageQueue
	var n C.int
	if err := call("fetch queues", func() C.int { return C.LitePullConsumerFetchMessageQueues(lc.c, t, &arr, &n) }); err != nil {
		return nil, err
	}
	return goQueues(arr, n), nil
}

// PullConsumer is librocketmq's plain pull consumer (explicit queue and offset).
type PullConsumer struct {
	c *C.CPullConsumer
}

func NewPullConsumer(group, nameServers string) (*PullConsumer, error) {
	g, ns := cstr(group), cstr(nameServers)
	defer free(g)
	defer free(ns)
	c := C.CreatePullConsumer(g)
	if c == nil {
		return nil, &Error{Op: "create pull consumer", Status: StatusNullPointer}
	}
	pc := &PullConsumer{c: c}
	if err := call("name server", func() C.int { return C.SetPullConsumerNameServerAddress(c, ns) }); err != nil {
		pc.Destroy()
		return nil, err
	}
	if err := call("start pull consumer", func() C.int { return C.StartPullConsumer(c) }); err != nil {
		pc.Destroy()
		return nil, err
	}
	return pc, nil
}

func (pc *PullConsumer) Destroy() {
	if pc.c != nil {
		C.DestroyPullConsumer(pc.c)
		pc.c = nil
	}
}

// Pull reads up to max messages of mq matching a tag expression from offset.
func (pc *PullConsumer) Pull(mq *primitive.MessageQueue, expr string, offset int64, max int) (*primitive.PullResult, error) {
	q := (*C.CMessageQueue)(C.malloc(C.size_t(unsafe.Sizeof(C.CMessageQueue{}))))
	defer C.free(unsafe.Pointer(q))
	*q = cQueue(mq)
	e := cstr(expr)
	defer free(e)
	var r C.CPullResult
	var errMsg string
	func() {
		lockThread()
		defer unlockThread()
		r = C.Pull(pc.c, q, e, C.longlong(offset), C.int(max))
		if r.pullStatus == C.E_BROKER_TIMEOUT {
			errMsg = C.GoString(C.GetLatestErrorMessage())
		}
	}()
	if r.pullStatus == C.E_BROKER_TIMEOUT {
		return nil, &Error{Op: "pull", Status: 32, Message: errMsg}
	}
	res := &primitive.PullResult{
		NextBeginOffset: int64(r.nextBeginOffset),
		MinOffset:       int64(r.minOffset),
		MaxOffset:       int64(r.maxOffset),
		Status:          primitive.PullStatus(r.pullStatus),
	}
	if r.size > 0 {
		items := unsafe.Slice(r.msgFoundList, int(r.size))
		msgs := make([]*primitive.MessageExt, 0, len(items))
		for _, m := range items {
			msgs = append(msgs, goMessageExt(m))
		}
		res.SetMessageExts(msgs)
		C.ReleasePullResult(r)
	}
	return res, nil
}
