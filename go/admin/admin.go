// Package admin has the shape of rocketmq-client-go v2's admin client: topic creation,
// deletion and listing, and the queues of a topic.
package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

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

// TopicConfigCreate holds CreateTopic's options. DefaultTopic is kept for v2's shape; the
// broker does not read it.
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

// v2's defaults: 8 read and 8 write queues, read + write permission, tag filtering.
func defaultTopicConfigCreate() TopicConfigCreate {
	return TopicConfigCreate{
		DefaultTopic:    "defaultTopic",
		ReadQueueNums:   8,
		WriteQueueNums:  8,
		Perm:            6,
		TopicFilterType: "SINGLE_TAG",
	}
}

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

// TopicConfigDelete holds DeleteTopic's options. Unset, BrokerAddr means every master broker
// of the topic's route (in ClusterName only, when set) and NameSrvAddr the admin's name
// servers.
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

// TopicList is FetchAllTopicList's answer. BrokerAddr is kept for v2's shape (name servers
// leave it empty).
type TopicList struct {
	TopicList  []string
	BrokerAddr string
}

// Admin is the admin client.
type Admin interface {
	CreateTopic(ctx context.Context, opts ...OptionCreate) error
	DeleteTopic(ctx context.Context, opts ...OptionDelete) error
	FetchAllTopicList(ctx context.Context) (*TopicList, error)
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

// CreateTopic creates the topic on the broker at WithBrokerAddrCreate, or updates it if it
// exists. As in v2 the topic name is used as given (no namespace is added). The name servers
// learn of it with the broker's next registration, which the broker asks for at once.
func (a *admin) CreateTopic(ctx context.Context, opts ...OptionCreate) error {
	cfg := defaultTopicConfigCreate()
	for _, apply := range opts {
		apply(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return a.producer.CreateTopic(cfg.BrokerAddr, capi.TopicConfig{
		Topic:          cfg.Topic,
		ReadQueueNums:  cfg.ReadQueueNums,
		WriteQueueNums: cfg.WriteQueueNums,
		Perm:           cfg.Perm,
		FilterType:     cfg.TopicFilterType,
		SysFlag:        cfg.TopicSysFlag,
		Order:          cfg.Order,
	})
}

// DeleteTopic deletes the topic from the brokers, then from the name servers. As in v2 the
// topic name is used as given (no namespace is added).
func (a *admin) DeleteTopic(ctx context.Context, opts ...OptionDelete) error {
	var cfg TopicConfigDelete
	for _, apply := range opts {
		apply(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return a.producer.DeleteTopic(cfg.Topic, cfg.ClusterName, cfg.BrokerAddr, cfg.NameSrvAddr)
}

// FetchAllTopicList lists every topic the name servers know (all clusters, system topics
// included; names as stored, namespace and all), sorted.
func (a *admin) FetchAllTopicList(ctx context.Context) (*TopicList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	topics, err := a.producer.TopicList()
	if err != nil {
		return nil, err
	}
	return &TopicList{TopicList: topics}, nil
}

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
