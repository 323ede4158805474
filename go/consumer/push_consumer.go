package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// Errors of consumers.
var (
	ErrStartTopic   = errors.New("the consumer was shut down or failed to start; create a new one")
	ErrNoListener   = errors.New("no subscription: call Subscribe before Start")
	ErrNotSupported = errors.New("not supported by rocketmq-rs")
)

// pollInterval bounds how long a poller goroutine sits in one native call, so Shutdown is
// noticed promptly.
const pollInterval = 200 * time.Millisecond

type callback func(context.Context, ...*primitive.MessageExt) (ConsumeResult, error)

type pushConsumer struct {
	options consumerOptions
	native  *capi.PushConsumer

	mu        sync.Mutex
	callbacks map[string]callback // by topic as the application named it
	state     int                 // 0 created, 1 running, 2 stopped
	destroyed bool
	pollers   sync.WaitGroup
}

// NewPushConsumer makes a push consumer: Subscribe, then Start.
func NewPushConsumer(opts ...Option) (*pushConsumer, error) {
	o := defaultPushConsumerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.ConsumeGoroutineNums <= 0 {
		o.ConsumeGoroutineNums = 20
	}
	cfg := capi.ConsumerConfig{
		Group:              o.wrap(o.GroupName),
		NameServers:        o.nameServers(),
		InstanceName:       o.InstanceName,
		Broadcasting:       o.ConsumerModel == BroadCasting,
		ConsumeFromWhere:   int(o.FromWhere),
		ConsumeTimestampMs: o.consumeTimestampMs(),
		Orderly:            o.ConsumeOrderly,
		BatchMaxSize:       o.ConsumeMessageBatchMaxSize,
		MaxReconsumeTimes:  int(o.MaxReconsumeTimes),
		Threads:            o.ConsumeGoroutineNums,
		AccessKey:          o.Credentials.AccessKey,
		SecretKey:          o.Credentials.SecretKey,
	}
	native, err := capi.NewPushConsumer(cfg, nil)
	if err != nil {
		return nil, err
	}
	return &pushConsumer{options: o, native: native, callbacks: map[string]callback{}}, nil
}

func subscription(topic string, selector MessageSelector) capi.Subscription {
	expr := selector.Expression
	if IsTagType(string(selector.Type)) {
		if expr == "" {
			expr = "*"
		}
		return capi.Subscription{Topic: topic, Expression: expr}
	}
	return capi.Subscription{Topic: topic, Expression: expr, SQL92: true}
}

// Subscribe registers f for topic. Before Start (after Start the new topic is read at the
// next start only).
func (pc *pushConsumer) Subscribe(topic string, selector MessageSelector,
	f func(context.Context, ...*primitive.MessageExt) (ConsumeResult, error)) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state == 2 {
		return ErrStartTopic
	}
	if err := pc.native.Subscribe(subscription(pc.options.wrap(topic), selector)); err != nil {
		return err
	}
	pc.callbacks[topic] = f
	return nil
}

// Unsubscribe removes a subscription.
func (pc *pushConsumer) Unsubscribe(topic string) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	delete(pc.callbacks, topic)
	return pc.native.Unsubscribe(pc.options.wrap(topic))
}

func (pc *pushConsumer) Start() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch pc.state {
	case 1:
		return nil
	case 2:
		return ErrStartTopic
	}
	if len(pc.callbacks) == 0 {
		return ErrNoListener
	}
	if err := pc.native.Start(); err != nil {
		pc.state = 2
		return err
	}
	pc.state = 1
	for i := 0; i < pc.options.ConsumeGoroutineNums; i++ {
		pc.pollers.Add(1)
		go pc.poll()
	}
	return nil
}

func (pc *pushConsumer) poll() {
	defer pc.pollers.Done()
	for {
		d, err := pc.native.Poll(pollInterval)
		if err != nil {
			return // shut down
		}
		if d == nil {
			continue
		}
		d.Ack(pc.consume(d))
	}
}

// consume runs the application's callback for one delivery; a panic or an error counts as
// "retry later".
func (pc *pushConsumer) consume(d *capi.Delivery) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	if len(d.Msgs) == 0 {
		return true
	}
	topic := pc.options.unwrap(d.Msgs[0].Topic)
	for _, m := range d.Msgs {
		m.Topic = pc.options.unwrap(m.Topic)
		if m.Queue != nil {
			m.Queue.Topic = m.Topic
		}
	}
	pc.mu.Lock()
	f := pc.callbacks[topic]
	pc.mu.Unlock()
	if f == nil {
		return false
	}
	mq := d.MQ
	mq.Topic = pc.options.unwrap(mq.Topic)
	ctx := context.Background()
	if pc.options.ConsumeOrderly {
		c := primitive.NewConsumeOrderlyContext()
		c.MQ = mq
		ctx = primitive.WithOrderlyCtx(ctx, c)
	} else {
		c := primitive.NewConsumeConcurrentlyContext()
		c.MQ = mq
		ctx = primitive.WithConcurrentlyCtx(ctx, c)
	}
	r, err := f(ctx, d.Msgs...)
	return err == nil && (r == ConsumeSuccess || r == Commit)
}

// Shutdown commits offsets, stops deliveries, waits for running callbacks and frees the
// native consumer.
func (pc *pushConsumer) Shutdown() error {
	pc.mu.Lock()
	if pc.destroyed {
		pc.mu.Unlock()
		return nil
	}
	pc.state = 2
	pc.destroyed = true
	pc.mu.Unlock()
	err := pc.native.Shutdown()
	pc.pollers.Wait()
	pc.native.Destroy()
	return err
}

func (pc *pushConsumer) Suspend() { pc.native.Suspend() }
func (pc *pushConsumer) Resume()  { pc.native.Resume() }

// GetOffsetDiffMap is, for each subscribed topic with queues assigned to this consumer, how
// many of its messages on those queues are yet to be consumed: the broker's max offset minus
// the group's offset (the offsets consumed so far are committed first). A topic whose
// offsets cannot be read now is left out; so is everything for a broadcasting consumer,
// whose offsets stay on its own disk.
func (pc *pushConsumer) GetOffsetDiffMap() map[string]int64 {
	diffs := map[string]int64{}
	// Held throughout: Shutdown waits for it before the native consumer goes away.
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state != 1 || pc.options.ConsumerModel == BroadCasting {
		return diffs
	}
	for topic := range pc.callbacks {
		diff, queues, err := pc.native.OffsetDiff(pc.options.wrap(topic))
		if err == nil && queues > 0 {
			diffs[topic] = diff
		}
	}
	return diffs
}

func (pc *pushConsumer) String() string {
	return fmt.Sprintf("pushConsumer[group=%s]", pc.options.GroupName)
}
