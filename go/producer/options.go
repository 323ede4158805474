// Package producer has rocketmq-client-go v2's producer options, queue selectors and
// constructors, over the native rocketmq-rs producer.
package producer

import (
	"strings"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

type producerOptions struct {
	GroupName                  string
	InstanceName               string
	Resolver                   primitive.NsResolver
	Namespace                  string
	SendMsgTimeout             time.Duration
	RetryTimes                 int
	Selector                   QueueSelector
	Credentials                primitive.Credentials
	CompressMsgBodyOverHowmuch int
	CompressLevel              int
}

func defaultProducerOptions() producerOptions {
	return producerOptions{
		GroupName:      "DEFAULT_PRODUCER",
		Resolver:       primitive.NewEnvResolver(),
		SendMsgTimeout: 3 * time.Second,
		RetryTimes:     2,
		CompressLevel:  5,
	}
}

// Option configures a producer.
type Option func(*producerOptions)

// WithGroupName sets the producer group (an empty name is ignored).
func WithGroupName(group string) Option {
	return func(o *producerOptions) {
		if group != "" {
			o.GroupName = group
		}
	}
}

// WithInstanceName sets the instance name (part of the client id).
func WithInstanceName(name string) Option {
	return func(o *producerOptions) { o.InstanceName = name }
}

// WithNamespace puts topics in a namespace ("ns%topic" on the wire).
func WithNamespace(namespace string) Option {
	return func(o *producerOptions) { o.Namespace = namespace }
}

// WithSendMsgTimeout is the budget of one send, retries included.
func WithSendMsgTimeout(duration time.Duration) Option {
	return func(o *producerOptions) { o.SendMsgTimeout = duration }
}

// WithRetry is how many more times a failed sync send is tried on other queues.
func WithRetry(retries int) Option {
	return func(o *producerOptions) { o.RetryTimes = retries }
}

// WithQueueSelector chooses the queue of each message (default: the native round-robin).
func WithQueueSelector(s QueueSelector) Option {
	return func(o *producerOptions) { o.Selector = s }
}

// WithCredentials sets ACL credentials.
func WithCredentials(c primitive.Credentials) Option {
	return func(o *producerOptions) { o.Credentials = c }
}

// WithNsResolver sets how name servers are found.
func WithNsResolver(resolver primitive.NsResolver) Option {
	return func(o *producerOptions) { o.Resolver = resolver }
}

// WithNameServer uses a fixed list of name servers.
func WithNameServer(nameServers primitive.NamesrvAddr) Option {
	return func(o *producerOptions) { o.Resolver = primitive.NewPassthroughResolver(nameServers) }
}

// WithCompressMsgBodyOverHowmuch compresses bodies of at least threshold bytes (default 4096).
func WithCompressMsgBodyOverHowmuch(threshold int) Option {
	return func(o *producerOptions) { o.CompressMsgBodyOverHowmuch = threshold }
}

// WithCompressLevel is the zlib level, 0..9 (default 5).
func WithCompressLevel(level int) Option {
	return func(o *producerOptions) { o.CompressLevel = level }
}

func (o *producerOptions) nameServers() string {
	if o.Resolver == nil {
		return ""
	}
	return strings.Join(o.Resolver.Resolve(), ";")
}

func (o *producerOptions) wrap(topic string) string {
	if o.Namespace == "" || strings.HasPrefix(topic, o.Namespace+"%") {
		return topic
	}
	return o.Namespace + "%" + topic
}
