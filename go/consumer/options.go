// Package consumer has rocketmq-client-go v2's consumer options, selectors, results and
// constructors, over the native rocketmq-rs push and lite pull consumers.
package consumer

import (
	"strings"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// MessageModel: who in a group gets a message.
type MessageModel int

const (
	BroadCasting MessageModel = iota
	Clustering
)

func (mode MessageModel) String() string {
	switch mode {
	case BroadCasting:
		return "BroadCasting"
	case Clustering:
		return "Clustering"
	default:
		return "Unknown"
	}
}

// ConsumeFromWhere: where a new group starts.
type ConsumeFromWhere int

const (
	ConsumeFromLastOffset ConsumeFromWhere = iota
	ConsumeFromFirstOffset
	ConsumeFromTimestamp
)

// ExpressionType of a MessageSelector.
type ExpressionType string

const (
	SQL92 = ExpressionType("SQL92")
	TAG   = ExpressionType("TAG")
)

// IsTagType tells whether exp names the TAG type ("" counts as TAG).
func IsTagType(exp string) bool { return exp == "" || exp == string(TAG) }

// MessageSelector filters a subscription: a tag expression ("TagA || TagB", "*") or SQL92
// over properties. The zero value selects everything.
type MessageSelector struct {
	Type       ExpressionType
	Expression string
}

// ConsumeResult is what a consumer callback answers.
type ConsumeResult int

const (
	ConsumeSuccess ConsumeResult = iota
	ConsumeRetryLater
	Commit
	Rollback
	SuspendCurrentQueueAMoment
)

type consumerOptions struct {
	GroupName                  string
	InstanceName               string
	Resolver                   primitive.NsResolver
	Namespace                  string
	Credentials                primitive.Credentials
	ConsumerModel              MessageModel
	FromWhere                  ConsumeFromWhere
	ConsumeTimestamp           string
	ConsumeOrderly             bool
	ConsumeMessageBatchMaxSize int
	MaxReconsumeTimes          int32
	ConsumeGoroutineNums       int
	PullBatchSize              int32
	AutoCommit                 bool
	PullInterval               time.Duration
}

func defaultPushConsumerOptions() consumerOptions {
	return consumerOptions{
		GroupName:            "DEFAULT_CONSUMER",
		Resolver:             primitive.NewEnvResolver(),
		ConsumerModel:        Clustering,
		FromWhere:            ConsumeFromLastOffset,
		MaxReconsumeTimes:    -1,
		ConsumeGoroutineNums: 20,
		AutoCommit:           true,
	}
}

// Option configures a consumer.
type Option func(*consumerOptions)

// WithGroupName sets the consumer group (an empty name is ignored).
func WithGroupName(group string) Option {
	return func(o *consumerOptions) {
		if group != "" {
			o.GroupName = group
		}
	}
}

// WithInstance sets the instance name (part of the client id).
func WithInstance(name string) Option { return func(o *consumerOptions) { o.InstanceName = name } }

// WithNamespace puts topics and the group in a namespace.
func WithNamespace(namespace string) Option {
	return func(o *consumerOptions) { o.Namespace = namespace }
}

// WithNsResolver sets how name servers are found.
func WithNsResolver(resolver primitive.NsResolver) Option {
	return func(o *consumerOptions) { o.Resolver = resolver }
}

// WithNameServer uses a fixed list of name servers.
func WithNameServer(nameServers primitive.NamesrvAddr) Option {
	return func(o *consumerOptions) { o.Resolver = primitive.NewPassthroughResolver(nameServers) }
}

// WithCredentials sets ACL credentials.
func WithCredentials(c primitive.Credentials) Option {
	return func(o *consumerOptions) { o.Credentials = c }
}

// WithConsumerModel chooses clustering (default) or broadcasting.
func WithConsumerModel(m MessageModel) Option {
	return func(o *consumerOptions) { o.ConsumerModel = m }
}

// WithConsumeFromWhere chooses where a new group starts.
func WithConsumeFromWhere(w ConsumeFromWhere) Option {
	return func(o *consumerOptions) { o.FromWhere = w }
}

// WithConsumeTimestamp is the start time of ConsumeFromTimestamp, "20060102150405" (local time).
func WithConsumeTimestamp(consumeTimestamp string) Option {
	return func(o *consumerOptions) { o.ConsumeTimestamp = consumeTimestamp }
}

// WithConsumerOrder consumes each queue in order, one message batch at a time.
func WithConsumerOrder(order bool) Option {
	return func(o *consumerOptions) { o.ConsumeOrderly = order }
}

// WithConsumeMessageBatchMaxSize is the most messages handed to one callback.
func WithConsumeMessageBatchMaxSize(consumeMessageBatchMaxSize int) Option {
	return func(o *consumerOptions) { o.ConsumeMessageBatchMaxSize = consumeMessageBatchMaxSize }
}

// WithMaxReconsumeTimes is how often a failing message is redelivered before it goes to the
// dead-letter queue (-1: 16 concurrently, unlimited orderly).
func WithMaxReconsumeTimes(times int32) Option {
	return func(o *consumerOptions) { o.MaxReconsumeTimes = times }
}

// WithConsumeGoroutineNums is how many goroutines run callbacks.
func WithConsumeGoroutineNums(nums int) Option {
	return func(o *consumerOptions) { o.ConsumeGoroutineNums = nums }
}

// WithPullBatchSize is the most messages per pull (lite pull consumer).
func WithPullBatchSize(batchSize int32) Option {
	return func(o *consumerOptions) { o.PullBatchSize = batchSize }
}

// WithAutoCommit commits polled offsets automatically (lite pull consumer; default true).
func WithAutoCommit(auto bool) Option { return func(o *consumerOptions) { o.AutoCommit = auto } }

// WithPullInterval is accepted for compatibility; the native consumer long-polls.
func WithPullInterval(interval time.Duration) Option {
	return func(o *consumerOptions) { o.PullInterval = interval }
}

func (o *consumerOptions) nameServers() string {
	if o.Resolver == nil {
		return ""
	}
	return strings.Join(o.Resolver.Resolve(), ";")
}

func (o *consumerOptions) wrap(name string) string {
	if o.Namespace == "" || strings.HasPrefix(name, o.Namespace+"%") {
		return name
	}
	return o.Namespace + "%" + name
}

func (o *consumerOptions) unwrap(name string) string {
	if o.Namespace == "" {
		return name
	}
	return strings.TrimPrefix(name, o.Namespace+"%")
}

func (o *consumerOptions) consumeTimestampMs() int64 {
	if o.ConsumeTimestamp == "" {
		return 0
	}
	t, err := time.ParseInLocation("20060102150405", o.ConsumeTimestamp, time.Local)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}
