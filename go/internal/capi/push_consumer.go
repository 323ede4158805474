package capi

/*
#include <stdlib.h>
#include "CPushConsumer.h"
*/
import "C"

import (
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// ConsumerConfig is what push and lite pull consumers are configured with.
type ConsumerConfig struct {
	Group              string
	NameServers        string
	InstanceName       string
	Broadcasting       bool
	ConsumeFromWhere   int // CConsumeFromWhere
	ConsumeTimestampMs int64
	Orderly            bool
	BatchMaxSize       int // <=0: default
	MaxReconsumeTimes  int // -1: default
	Threads            int // <=0: default
	AccessKey          string
	SecretKey          string
	PullBatchSize      int // lite: <=0 default
	AutoCommit         bool
}

// Subscription is one topic and its selector.
type Subscription struct {
	Topic      string
	Expression string
	SQL92      bool
}

// PushConsumer is a native push consumer in poll mode: deliveries are fetched with Poll.
type PushConsumer struct {
	c *C.CPushConsumer
}

// NewPushConsumer creates and configures a push consumer (not started).
func NewPushConsumer(cfg ConsumerConfig, subs []Subscription) (*PushConsumer, error) {
	g := cstr(cfg.Group)
	defer free(g)
	c := C.CreatePushConsumer(g)
	if c == nil {
		return nil, &Error{Op: "create push consumer", Status: StatusNullPointer, Message: "cannot create a consumer"}
	}
	pc := &PushConsumer{c: c}
	ns := cstr(cfg.NameServers)
	defer free(ns)
	steps := []struct {
		op string
		f  func() C.int
	}{
		{"name server", func() C.int { return C.SetPushConsumerNameServerAddress(c, ns) }},
		{"consume from", func() C.int { return C.SetPushConsumerConsumeFromWhere(c, C.CConsumeFromWhere(cfg.ConsumeFromWhere)) }},
		{"max reconsume times", func() C.int { return C.SetPushConsumerMaxReconsumeTimes(c, C.int(cfg.MaxReconsumeTimes)) }},
		{"polling", func() C.int { return C.RegisterMessagePolling(c, boolInt(cfg.Orderly)) }},
	}
	if cfg.ConsumeTimestampMs > 0 {
		steps = append(steps, struct {
			op string
			f  func() C.int
		}{"consume timestamp", func() C.int { return C.SetPushConsumerConsumeTimestamp(c, C.longlong(cfg.ConsumeTimestampMs)) }})
	}
	model := C.CLUSTERING
	if cfg.Broadcasting {
		model = C.BROADCASTING
	}
	steps = append(steps, struct {
		op string
		f  func() C.int
	}{"message model", func() C.int { return C.SetPushConsumerMessageModel(c, C.CMessageModel(model)) }})
	if cfg.BatchMaxSize > 0 {
		steps = append(steps, struct {
			op string
			f  func() C.int
		}{"batch size", func() C.int { return C.SetPushConsumerMessageBatchMaxSize(c, C.int(cfg.BatchMaxSize)) }})
	}
	if cfg.Threads > 0 {
		steps = append(steps, struct {
			op string
			f  func() C.int
		}{"threads", func() C.int { return C.SetPushConsumerThreadCount(c, C.int(cfg.Threads)) }})
	}
	for _, s := range steps {
		if err := call(s.op, s.f); err != nil {
			pc.Destroy()
			return nil, err
		}
	}
	if cfg.InstanceName != "" {
		in := cstr(cfg.InstanceName)
		err := call("instance name", func() C.int { return C.SetPushConsumerInstanceName(c, in) })
		free(in)
		if err != nil {
			pc.Destroy()
			return nil, err
		}
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		ak, sk := cstr(cfg.AccessKey), cstr(cfg.SecretKey)
		err := call("credentials", func() C.int { return C.SetPushConsumerSessionCredentials(c, ak, sk, nil) })
		free(ak)
		free(sk)
		if err != nil {
			pc.Destroy()
			return nil, err
		}
	}
	for _, s := range subs {
		if err := pc.Subscribe(s); err != nil {
			pc.Destroy()
			return nil, err
		}
	}
	return pc, nil
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Subscribe adds a subscription (read at Start).
func (pc *PushConsumer) Subscribe(s Subscription) error {
	t, e := cstr(s.Topic), cstr(s.Expression)
	defer free(t)
	defer free(e)
	if s.SQL92 {
		return call("subscribe", func() C.int { return C.SubscribeSQL92(pc.c, t, e) })
	}
	return call("subscribe", func() C.int { return C.Subscribe(pc.c, t, e) })
}

// Unsubscribe removes a subscription.
func (pc *PushConsumer) Unsubscribe(topic string) error {
	t := cstr(topic)
	defer free(t)
	return call("unsubscribe", func() C.int { return C.Unsubscribe(pc.c, t) })
}

func (pc *PushConsumer) Start() error {
	return call("start push consumer", func() C.int { return C.StartPushConsumer(pc.c) })
}

// Shutdown stops deliveries; pollers then get ErrClosed.
func (pc *PushConsumer) Shutdown() error {
	return call("shutdown push consumer", func() C.int { return C.ShutdownPushConsumer(pc.c) })
}

func (pc *PushConsumer) Suspend() { C.SuspendPushConsumer(pc.c) }
func (pc *PushConsumer) Resume()  { C.ResumePushConsumer(pc.c) }

// Destroy frees the native consumer.
func (pc *PushConsumer) Destroy() {
	if pc.c != nil {
		C.DestroyPushConsumer(pc.c)
		pc.c = nil
	}
}

// Delivery is a batch of messages waiting for its answer.
type Delivery struct {
	r    *C.CConsumeRequest
	Msgs []*primitive.MessageExt
	MQ   primitive.MessageQueue
}

// ErrClosed is returned by Poll once the consumer is shut down.
var ErrClosed = &Error{Op: "poll", Status: StatusPushConsumerNotRunning, Message: "the consumer is shut down"}

// Poll waits up to timeout for a delivery: (nil, nil) on timeout, ErrClosed after shutdown.
func (pc *PushConsumer) Poll(timeout time.Duration) (*Delivery, error) {
	var r *C.CConsumeRequest
	err := call("poll", func() C.int { return C.PollPushConsumer(pc.c, C.int(timeout.Milliseconds()), &r) })
	if err != nil {
		if e, ok := err.(*Error); ok && e.Status == StatusPushConsumerNotRunning {
			return nil, ErrClosed
		}
		return nil, err
	}
	if r == nil {
		return nil, nil
	}
	n := int(C.GetConsumeRequestMessageCount(r))
	d := &Delivery{r: r, Msgs: make([]*primitive.MessageExt, 0, n)}
	for i := 0; i < n; i++ {
		d.Msgs = append(d.Msgs, goMessageExt(C.GetConsumeRequestMessage(r, C.int(i))))
	}
	var q C.CMessageQueue
	C.GetConsumeRequestMessageQueue(r, &q)
	d.MQ = *goQueue(&q)
	return d, nil
}

// Ack answers a delivery (ok = consumed) and frees it.
func (d *Delivery) Ack(ok bool) {
	status := C.int(1)
	if ok {
		status = 0
	}
	C.AckConsumeRequest(d.r, status)
	d.r = nil
}

// OffsetDiff is how many messages of topic the consumer has yet to consume on the queues
// assigned to it (offsets committed first), and how many such queues there are.
func (pc *PushConsumer) OffsetDiff(topic string) (diff int64, queues int, err error) {
	t := cstr(topic)
	defer free(t)
	var d C.longlong
	var n C.int
	err = call("offset diff", func() C.int { return C.GetPushConsumerOffsetDiff(pc.c, t, &d, &n) })
	return int64(d), int(n), err
}
