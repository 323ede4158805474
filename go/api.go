// Package rocketmq is rocketmq-client-go v2's API over rocketmq-rs: the same constructors,
// options and method signatures (for what is supported), backed by the Rust client through
// librocketmq's C ABI.
//
// Build: run go/build-native.sh once (it builds the Rust library and installs librocketmq.a
// where cgo links it); cgo must be enabled. `-tags rocketmq_dynamic` links librocketmq.so
// instead.
package rocketmq

import (
	"context"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/internal"
	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

// Producer sends messages.
type Producer interface {
	Start() error
	Shutdown() error
	SendSync(ctx context.Context, mq ...*primitive.Message) (*primitive.SendResult, error)
	SendAsync(ctx context.Context, mq func(ctx context.Context, result *primitive.SendResult, err error),
		msg ...*primitive.Message) error
	SendOneWay(ctx context.Context, mq ...*primitive.Message) error
	Request(ctx context.Context, ttl time.Duration, msg *primitive.Message) (*primitive.Message, error)
	RequestAsync(ctx context.Context, ttl time.Duration, callback internal.RequestCallback, msg *primitive.Message) error
}

// NewProducer makes a producer.
func NewProducer(opts ...producer.Option) (Producer, error) {
	return producer.NewDefaultProducer(opts...)
}

// TransactionProducer sends transactional messages.
type TransactionProducer interface {
	Start() error
	Shutdown() error
	SendMessageInTransaction(ctx context.Context, mq *primitive.Message) (*primitive.TransactionSendResult, error)
}

// NewTransactionProducer makes a transactional producer.
func NewTransactionProducer(listener primitive.TransactionListener, opts ...producer.Option) (TransactionProducer, error) {
	return producer.NewTransactionProducer(listener, opts...)
}

// PushConsumer delivers messages to callbacks.
type PushConsumer interface {
	Start() error
	Shutdown() error
	Subscribe(topic string, selector consumer.MessageSelector,
		f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error)) error
	Unsubscribe(topic string) error
	Suspend()
	Resume()
	GetOffsetDiffMap() map[string]int64
}

// NewPushConsumer makes a push consumer.
func NewPushConsumer(opts ...consumer.Option) (PushConsumer, error) {
	return consumer.NewPushConsumer(opts...)
}

// PullConsumer is the lite pull consumer.
type PullConsumer interface {
	Start() error
	Shutdown() error
	Subscribe(topic string, selector consumer.MessageSelector) error
	Unsubscribe(topic string) error
	GetTopicRouteInfo(topic string) ([]*primitive.MessageQueue, error)
	Assign(topic string, mqs []*primitive.MessageQueue) error
	Poll(ctx context.Context, timeout time.Duration) (*consumer.ConsumeRequest, error)
	ACK(ctx context.Context, cr *consumer.ConsumeRequest, consumeResult consumer.ConsumeResult)
	Pull(ctx context.Context, numbers int) (*primitive.PullResult, error)
	PullFrom(ctx context.Context, queue *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error)
	SeekOffset(queue *primitive.MessageQueue, offset int64)
	OffsetForTimestamp(queue *primitive.MessageQueue, timestamp int64) (int64, error)
	UpdateOffset(queue *primitive.MessageQueue, offset int64) error
	PersistOffset(ctx context.Context, topic string) error
	CurrentOffset(queue *primitive.MessageQueue) (int64, error)
}

// NewPullConsumer makes a lite pull consumer.
func NewPullConsumer(opts ...consumer.Option) (PullConsumer, error) {
	return consumer.NewPullConsumer(opts...)
}

// NativeVersion is the version of the linked native library.
func NativeVersion() string { return capi.Version() }

// LinkInfo tells how the native library is linked (static or dynamic).
const LinkInfo = capi.LinkInfo
