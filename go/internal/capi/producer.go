package capi

/*
#include <stdlib.h>
#include "CProducer.h"
#include "CPullConsumer.h"

extern CTransactionStatus rmqGoExecuteLocalTransaction(CProducer* producer, CMessage* msg, void* data);
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// ProducerConfig is what a producer is started with.
type ProducerConfig struct {
	Group         string
	NameServers   string // "a:9876;b:9876"
	InstanceName  string
	Retry         int // <0: default
	SendTimeout   time.Duration
	AccessKey     string
	SecretKey     string
	CompressOver  int // <=0: default
	CompressLevel int // <0: default
	Transactional bool
}

// Producer is a native producer.
type Producer struct {
	p *C.CProducer
}

// NewProducer creates and configures (but does not start) a producer.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	g := cstr(cfg.Group)
	defer free(g)
	var p *C.CProducer
	if cfg.Transactional {
		p = C.CreateTransactionProducer(g, nil, nil)
	} else {
		p = C.CreateProducer(g)
	}
	if p == nil {
		return nil, &Error{Op: "create producer", Status: StatusNullPointer, Message: "cannot create a producer"}
	}
	pr := &Producer{p: p}
	set := func(op string, f func() C.int) error { return call(op, f) }
	ns := cstr(cfg.NameServers)
	defer free(ns)
	if err := set("name server", func() C.int { return C.SetProducerNameServerAddress(p, ns) }); err != nil {
		pr.Destroy()
		return nil, err
	}
	var errs []error
	if cfg.InstanceName != "" {
		in := cstr(cfg.InstanceName)
		defer free(in)
		errs = append(errs, set("instance name", func() C.int { return C.SetProducerInstanceName(p, in) }))
	}
	if cfg.Retry >= 0 {
		errs = append(errs, set("retry", func() C.int { return C.SetProducerRetryTimes(p, C.int(cfg.Retry)) }))
	}
	if cfg.SendTimeout > 0 {
		ms := cfg.SendTimeout.Milliseconds()
		if ms < 1 {
			ms = 1
		}
		errs = append(errs, set("send timeout", func() C.int { return C.SetProducerSendMsgTimeout(p, C.int(ms)) }))
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		ak, sk := cstr(cfg.AccessKey), cstr(cfg.SecretKey)
		defer free(ak)
		defer free(sk)
		errs = append(errs, set("credentials", func() C.int { return C.SetProducerSessionCredentials(p, ak, sk, nil) }))
	}
	if cfg.CompressOver > 0 {
		errs = append(errs, set("compress threshold", func() C.int { return C.SetProducerCompressMsgBodyOverHowmuch(p, C.int(cfg.CompressOver)) }))
	}
	if cfg.CompressLevel >= 0 {
		errs = append(errs, set("compress level", func() C.int { return C.SetProducerCompressLevel(p, C.int(cfg.CompressLevel)) }))
	}
	for _, err := range errs {
		if err != nil {
			pr.Destroy()
			return nil, err
		}
	}
	if cfg.Transactional {
		if err := set("transaction checks", func() C.int { return C.RegisterTransactionCheckPolling(p) }); err != nil {
			pr.Destroy()
			return nil, err
		}
	}
	return pr, nil
}

func (p *Producer) Start() error {
	return call("start producer", func() C.int { return C.StartProducer(p.p) })
}

func (p *Producer) Shutdown() error {
	return call("shutdown producer", func() C.int { return C.ShutdownProducer(p.p) })
}

// Destroy frees the native producer (shutting it down if needed).
func (p *Producer) Destroy() {
	if p.p != nil {
		C.DestroyProducer(p.p)
		p.p = nil
	}
}

func goSendResult(r *C.CSendReceipt) *primitive.SendResult {
	var q C.CMessageQueue
	C.GetSendReceiptMessageQueue(r, &q)
	return &primitive.SendResult{
		Status:        primitive.SendStatus(C.GetSendReceiptStatus(r)),
		MsgID:         C.GoString(C.GetSendReceiptMsgId(r)),
		MessageQueue:  goQueue(&q),
		QueueOffset:   int64(C.GetSendReceiptQueueOffset(r)),
		TransactionID: C.GoString(C.GetSendReceiptTransactionId(r)),
		OffsetMsgID:   C.GoString(C.GetSendReceiptOffsetMsgId(r)),
		RegionID:      C.GoString(C.GetSendReceiptRegionId(r)),
	}
}

// SendSync sends one message and waits; to queue mq when not nil.
func (p *Producer) SendSync(msg *primitive.Message, mq *primitive.MessageQueue) (*primitive.SendResult, error) {
	m, err := newCMessage(msg)
	if err != nil {
		return nil, err
	}
	defer C.DestroyMessage(m)
	var cq *C.CMessageQueue
	if mq != nil {
		q := (*C.CMessageQueue)(C.malloc(C.size_t(unsafe.Sizeof(C.CMessageQueue{}))))
		defer C.free(unsafe.Pointer(q))
		*q = cQueue(mq)
		cq = q
	}
	var receipt *C.CSendReceipt
	if err := call("send", func() C.int { return C.SendMessageWithReceipt(p.p, m, cq, &receipt) }); err != nil {
		return nil, err
	}
	defer C.DestroySendReceipt(receipt)
	return goSendResult(receipt), nil
}

// SendBatch sends messages of one topic as one request.
func (p *Producer) SendBatch(msgs []*primitive.Message) (*primitive.SendResult, error) {
	b, err := newCBatch(msgs)
	if err != nil {
		return nil, err
	}
	defer C.DestroyBatchMessage(b)
	var receipt *C.CSendReceipt
	if err := call("send batch", func() C.int { return C.SendBatchMessageWithReceipt(p.p, b, &receipt) }); err != nil {
		return nil, err
	}
	defer C.DestroySendReceipt(receipt)
	return goSendResult(receipt), nil
}

// SendOneway sends without waiting for the broker.
func (p *Producer) SendOneway(msg *primitive.Message) error {
	m, err := newCMessage(msg)
	if err != nil {
		return err
	}
	defer C.DestroyMessage(m)
	return call("send one-way", func() C.int { return C.SendMessageOneway(p.p, m) })
}

// PublishQueues lists the writable queues of topic.
func (p *Producer) PublishQueues(topic string) ([]*primitive.MessageQueue, error) {
	t := cstr(topic)
	defer free(t)
	var arr *C.CMessageQueue
	var n C.int
	if err := call("fetch queues", func() C.int { return C.FetchPublishMessageQueues(p.p, t, &arr, &n) }); err != nil {
		return nil, err
	}
	return goQueues(arr, n), nil
}

// Executor runs a local transaction (called on the sending goroutine's thread, inside the
// send call).
type Executor func(*primitive.Message) primitive.LocalTransactionState

// SendTransaction sends a half message, runs exec, and commits or rolls back.
func (p *Producer) SendTransaction(msg *primitive.Message, exec Executor) (*primitive.TransactionSendResult, error) {
	m, err := newCMessage(msg)
	if err != nil {
		return nil, err
	}
	defer C.DestroyMessage(m)
	h := cgo.NewHandle(exec)
	defer h.Delete()
	var receipt *C.CSendReceipt
	err = call("send transaction", func() C.int {
		return C.SendMessageTransactionWithReceipt(p.p, m,
			C.CLocalTransactionExecutorCallback(C.rmqGoExecuteLocalTransaction), handlePtr(uintptr(h)), &receipt)
	})
	if err != nil {
		return nil, err
	}
	defer C.DestroySendReceipt(receipt)
	state := primitive.UnkonwnState
	switch C.GetSendReceiptTransactionState(receipt) {
	case C.E_COMMIT_TRANSACTION:
		state = primitive.CommitMessageState
	case C.E_ROLLBACK_TRANSACTION:
		state = primitive.RollbackMessageState
	}
	return &primitive.TransactionSendResult{SendResult: goSendResult(receipt), State: state}, nil
}

func cTransactionStatus(s primitive.LocalTransactionState) C.CTransactionStatus {
	switch s {
	case primitive.CommitMessageState:
		return C.E_COMMIT_TRANSACTION
	case primitive.RollbackMessageState:
		return C.E_ROLLBACK_TRANSACTION
	default:
		return C.E_UNKNOWN_TRANSACTION
	}
}

//export rmqGoExecuteLocalTransaction
func rmqGoExecuteLocalTransaction(producer *C.CProducer, msg *C.CMessage, data unsafe.Pointer) (status C.CTransactionStatus) {
	status = C.E_UNKNOWN_TRANSACTION
	// A panic must not unwind into the native caller: it counts as "unknown" (the broker asks
	// the checker later).
	defer func() { _ = recover() }()
	exec := cgo.Handle(ptrHandle(data)).Value().(Executor)
	return cTransactionStatus(exec(goMessage(msg)))
}

// TransactionCheck is one broker question about an undecided transaction.
type TransactionCheck struct {
	c *C.CTransactionCheck
}

// PollCheck waits up to timeout for a transaction check; (nil, nil) on timeout, an error once
// the producer is shut down.
func (p *Producer) PollCheck(timeout time.Duration) (*TransactionCheck, error) {
	var c *C.CTransactionCheck
	if err := call("poll transaction check", func() C.int {
		return C.PollTransactionCheck(p.p, C.int(timeout.Milliseconds()), &c)
	}); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, nil
	}
	return &TransactionCheck{c: c}, nil
}

// Message is the half message being checked.
func (c *TransactionCheck) Message() *primitive.MessageExt {
	return goMessageExt(C.GetTransactionCheckMessage(c.c))
}

// Answer answers and frees the check.
func (c *TransactionCheck) Answer(s primitive.LocalTransactionState) {
	C.AnswerTransactionCheck(c.c, cTransactionStatus(s))
	c.c = nil
	runtime.KeepAlive(c)
}
