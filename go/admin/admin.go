// Package admin has the shape of rocketmq-client-go v2's admin client. rocketmq-rs supports
// the read side that clients need (FetchPublishMessageQueues); topic and group management go
// through the broker's own tools (auto-creation covers tests).
package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// ErrNotSupported is returned by the management calls rocketmq-rs does not offer here.
var ErrNotSupported = errors.New("admin operation not supported by rocketmq-rs")

type adminOptions struct {
	Resolver    primitive.NsResolver
	Credentials primitive.Credentials
	Namespace   string
}

// AdminOption configures an admin client.
type AdminOption func(*adminOptions)

func WithResolver(resolver primitive.NsResolver) AdminOption {
	return func(o *adminOptions) { o.Resolver = resolver }
}
func WithCredentials(c primitive.Credentials) AdminOption {
	return func(o *adminOptions) { o.Credentials = c }
}
func WithNamespace(ns string) AdminOption { return func(o *adminOptions) { o.Namespace = ns } }

// TopicConfigCreate holds CreateTopic's options.
type TopicConfigCreate struct {
	Topic           string
	BrokerAddr      string
	DefaultTopic    string
	ReadQueueNums   int
	WriteQueueNums  int
	Perm            int
	TopicFilterType string
	TopicSysFlag    int
	Order           bool
}

type OptionCreate func(*TopicConfigCreate)

func WithTopicCreate(topic string) OptionCreate {
	return func(c *TopicConfigCreate) { c.Topic = topic }
}
func WithBrokerAddrCreate(addr string) OptionCreate {
	return func(c *TopicConfigCreate) { c.BrokerAddr = addr }
}
func WithReadQueueNums(n int) OptionCreate { return func(c *TopicConfigCreate) { c.ReadQueueNums = n } }
func WithWriteQueueNums(n int) OptionCreate {
	return func(c *TopicConfigCreate) { c.WriteQueueNums = n }
}
func WithPerm(perm int) OptionCreate { return func(c *TopicConfigCreate) { c.Perm = perm } }
func WithTopicFilterType(t string) OptionCreate {
	return func(c *TopicConfigCreate) { c.TopicFilterType = t }
}
func WithTopicSysFlag(flag int) OptionCreate {
	return func(c *TopicConfigCreate) { c.TopicSysFlag = flag }
}
func WithOrder(order bool) OptionCreate { return func(c *TopicConfigCreate) { c.Order = order } }

// TopicConfigDelete holds DeleteTopic's options.
type TopicConfigDelete struct {
	Topic       string
	ClusterName string
	NameSrvAddr []string
	BrokerAddr  string
}

type OptionDelete func(*TopicConfigDelete)

func WithTopicDelete(topic string) OptionDelete {
	return func(c *TopicConfigDelete) { c.Topic = topic }
}
func WithBrokerAddrDelete(addr string) OptionDelete {
	return func(c *TopicConfigDelete) { c.BrokerAddr = addr }
}
func WithClusterName(name string) OptionDelete {
	return func(c *TopicConfigDelete) { c.ClusterName = name }
}
func WithNameSrvAddr(addr []string) OptionDelete {
	return func(c *TopicConfigDelete) { c.NameSrvAddr = addr }
}

// Admin is the admin client.
type Admin interface {
	CreateTopic(ctx context.Context, opts ...OptionCreate) error
	DeleteTopic(ctx context.Context, opts ...OptionDelete) error
	FetchPublishMessageQueues(ctx context.Context, topic string) ([]*primitive.MessageQueue, error)
	Close() error
}

type admin struct {
	opts     adminOptions
	producer *capi.Producer
}

// NewAdmin makes an admin client (group TOOLS_ADMIN).
func NewAdmin(opts ...AdminOption) (*admin, error) {
	o := adminOptions{Resolver: primitive.NewEnvResolver()}
	for _, opt := range opts {
		opt(&o)
	}
	p, err := capi.NewProducer(capi.ProducerConfig{
		Group:         "TOOLS_ADMIN",
		NameServers:   strings.Join(o.Resolver.Resolve(), ";"),
		InstanceName:  fmt.Sprintf("admin-%d", time.Now().UnixNano()),
		Retry:         -1,
		CompressLevel: -1,
		AccessKey:     o.Credentials.AccessKey,
		SecretKey:     o.Credentials.SecretKey,
	})
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		p.Destroy()
		return nil, err
	}
	return &admin{opts: o, producer: p}, nil
}

func (a *admin) CreateTopic(ctx context.Context, opts ...OptionCreate) error { return ErrNotSupported }
func (a *admin) DeleteTopic(ctx context.Context, opts ...OptionDelete) error { return ErrNotSupported }

// FetchPublishMessageQueues lists the writable queues of topic.
func (a *admin) FetchPublishMessageQueues(ctx context.Context, topic string) ([]*primitive.MessageQueue, error) {
	if a.opts.Namespace != "" {
		topic = a.opts.Namespace + "%" + topic
	}
	return a.producer.PublishQueues(topic)
}

func (a *admin) Close() error {
	err := a.producer.Shutdown()
	a.producer.Destroy()
	return err
}
