package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// ErrNoNewMsg is what Poll returns when nothing came within its timeout.
var ErrNoNewMsg = errors.New("no new message found")

// IsNoNewMsgError tells whether err is ErrNoNewMsg.
func IsNoNewMsgError(err error) bool { return errors.Is(err, ErrNoNewMsg) }

// ConsumeRequest is one batch returned by Poll (all from one queue).
type ConsumeRequest struct {
	messageQueue *primitive.MessageQueue
	msgList      []*primitive.MessageExt
}

func (cr *ConsumeRequest) GetMsgList() []*primitive.MessageExt { return cr.msgList }
func (cr *ConsumeRequest) GetMQ() *primitive.MessageQueue      { return cr.messageQueue }

type defaultPullConsumer struct {
	options consumerOptions
	native  *capi.LiteConsumer

	mu    sync.Mutex
	state int // 0 created, 1 running, 2 stopped
	plain *capi.PullConsumer
}

// NewPullConsumer makes a lite pull consumer: Subscribe (or Assign), Start, then Poll/ACK.
func NewPullConsumer(options ...Option) (*defaultPullConsumer, error) {
	o := defaultPushConsumerOptions()
	for _, opt := range options {
		opt(&o)
	}
	cfg := capi.ConsumerConfig{
		Group:              o.wrap(o.GroupName),
		NameServers:        o.nameServers(),
		Broadcasting:       o.ConsumerModel == BroadCasting,
		ConsumeFromWhere:   int(o.FromWhere),
		ConsumeTimestampMs: o.consumeTimestampMs(),
		AccessKey:          o.Credentials.AccessKey,
		SecretKey:          o.Credentials.SecretKey,
		PullBatchSize:      int(o.PullBatchSize),
		AutoCommit:         o.AutoCommit,
	}
	native, err := capi.NewLiteConsumer(cfg)
	if err != nil {
		return nil, err
	}
	return &defaultPullConsumer{options: o, native: native}, nil
}

func (pc *defaultPullConsumer) Start() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch pc.state {
	case 1:
		return nil
	case 2:
		return ErrStartTopic
	}
	if err := pc.native.Start(); err != nil {
		return err
	}
	pc.state = 1
	return nil
}

// Shutdown commits (when auto-committing), stops and frees the consumer.
func (pc *defaultPullConsumer) Shutdown() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state == 2 {
		return nil
	}
	pc.state = 2
	err := pc.native.Shutdown()
	pc.native.Destroy()
	if pc.plain != nil {
		pc.plain.Destroy()
	}
	return err
}

func (pc *defaultPullConsumer) Subscribe(topic string, selector MessageSelector) error {
	return pc.native.Subscribe(subscription(pc.options.wrap(topic), selector))
}

func (pc *defaultPullConsumer) Unsubscribe(topic string) error { return ErrNotSupported }

func (pc *defaultPullConsumer) wrapQueue(q *primitive.MessageQueue) *primitive.MessageQueue {
	c := *q
	c.Topic = pc.options.wrap(q.Topic)
	return &c
}

func (pc *defaultPullConsumer) unwrapQueues(qs []*primitive.MessageQueue) []*primitive.MessageQueue {
	for _, q := range qs {
		q.Topic = pc.options.unwrap(q.Topic)
	}
	return qs
}

// GetTopicRouteInfo lists the readable queues of topic.
func (pc *defaultPullConsumer) GetTopicRouteInfo(topic string) ([]*primitive.MessageQueue, error) {
	qs, err := pc.native.Queues(pc.options.wrap(topic))
	return pc.unwrapQueues(qs), err
}

// Assign reads exactly these queues (no rebalance).
func (pc *defaultPullConsumer) Assign(topic string, mqs []*primitive.MessageQueue) error {
	w := make([]*primitive.MessageQueue, 0, len(mqs))
	for _, q := range mqs {
		w = append(w, pc.wrapQueue(q))
	}
	return pc.native.Assign(w)
}

// Poll waits up to timeout for messages; ErrNoNewMsg when none came.
func (pc *defaultPullConsumer) Poll(ctx context.Context, timeout time.Duration) (*ConsumeRequest, error) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	msgs, err := pc.native.Poll(timeout)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, ErrNoNewMsg
	}
	for _, m := range msgs {
		m.Topic = pc.options.unwrap(m.Topic)
		if m.Queue != nil {
			m.Queue.Topic = m.Topic
		}
	}
	mq := *msgs[0].Queue
	return &ConsumeRequest{messageQueue: &mq, msgList: msgs}, nil
}

// ACK: on success the offset after the batch is committed; otherwise the queue is rewound so
// the batch is polled again.
func (pc *defaultPullConsumer) ACK(ctx context.Context, cr *ConsumeRequest, result ConsumeResult) {
	if cr == nil || len(cr.msgList) == 0 {
		return
	}
	mq := pc.wrapQueue(cr.messageQueue)
	first, last := cr.msgList[0].QueueOffset, cr.msgList[len(cr.msgList)-1].QueueOffset
	if result == ConsumeSuccess {
		_ = pc.native.Commit(mq, last+1)
	} else {
		_ = pc.native.Seek(mq, first)
	}
}

// Pull polls up to numbers messages (at most one batch).
func (pc *defaultPullConsumer) Pull(ctx context.Context, numbers int) (*primitive.PullResult, error) {
	cr, err := pc.Poll(ctx, 3*time.Second)
	if err != nil {
		if IsNoNewMsgError(err) {
			return &primitive.PullResult{Status: primitive.PullNoNewMsg}, nil
		}
		return nil, err
	}
	msgs := cr.msgList
	if numbers > 0 && len(msgs) > numbers {
		_ = pc.native.Seek(pc.wrapQueue(cr.messageQueue), msgs[numbers].QueueOffset)
		msgs = msgs[:numbers]
	}
	r := &primitive.PullResult{Status: primitive.PullFound, NextBeginOffset: msgs[len(msgs)-1].QueueOffset + 1}
	r.SetMessageExts(msgs)
	return r, nil
}

// PullFrom reads up to numbers messages of queue from offset, independent of subscriptions and
// committed offsets.
func (pc *defaultPullConsumer) PullFrom(ctx context.Context, queue *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error) {
	pc.mu.Lock()
	if pc.plain == nil {
		p, err := capi.NewPullConsumer(pc.options.wrap(pc.options.GroupName), pc.options.nameServers())
		if err != nil {
			pc.mu.Unlock()
			return nil, err
		}
		pc.plain = p
	}
	plain := pc.plain
	pc.mu.Unlock()
	r, err := plain.Pull(pc.wrapQueue(queue), "*", offset, numbers)
	if err != nil {
		return nil, err
	}
	for _, m := range r.GetMessageExts() {
		m.Topic = pc.options.unwrap(m.Topic)
	}
	return r, nil
}

// SeekOffset makes queue read from offset next.
func (pc *defaultPullConsumer) SeekOffset(queue *primitive.MessageQueue, offset int64) {
	_ = pc.native.Seek(pc.wrapQueue(queue), offset)
}

// OffsetForTimestamp finds the first offset stored at or after timestamp (ms).
func (pc *defaultPullConsumer) OffsetForTimestamp(queue *primitive.MessageQueue, timestamp int64) (int64, error) {
	return pc.native.OffsetForTimestamp(pc.wrapQueue(queue), timestamp)
}

// UpdateOffset commits offset (the next to consume) for queue.
func (pc *defaultPullConsumer) UpdateOffset(queue *primitive.MessageQueue, offset int64) error {
	return pc.native.Commit(pc.wrapQueue(queue), offset)
}

// PersistOffset commits, for every queue, the offset after what Poll returned.
func (pc *defaultPullConsumer) PersistOffset(ctx context.Context, topic string) error {
	return pc.native.CommitSync()
}

// CurrentOffset is the committed offset of queue (-1 if none).
func (pc *defaultPullConsumer) CurrentOffset(queue *primitive.MessageQueue) (int64, error) {
	return pc.native.Committed(pc.wrapQueue(queue))
}
