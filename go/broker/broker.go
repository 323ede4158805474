// Package broker runs rocketmq-rs' name server and broker inside the test process (or any
// program), for tests that need a real broker without installing one.
package broker

import (
	"strings"
	"testing"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// Broker is a running embedded name server + broker.
type Broker struct {
	native *capi.EmbeddedBroker
}

type options struct {
	properties []string
	storeDir   string
}

// Option configures an embedded broker.
type Option func(*options)

// WithProperty sets a broker.conf key, e.g. WithProperty("enablePropertyFilter", "true").
func WithProperty(key, value string) Option {
	return func(o *options) { o.properties = append(o.properties, key+"="+value) }
}

// WithStoreDir keeps the store in dir (default: a temporary one removed at shutdown).
func WithStoreDir(dir string) Option { return func(o *options) { o.storeDir = dir } }

// StartBroker starts an embedded broker; call Shutdown when done.
func StartBroker(opts ...Option) (*Broker, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	nb, err := capi.StartEmbeddedBroker(strings.Join(o.properties, "\n"), o.storeDir)
	if err != nil {
		return nil, err
	}
	return &Broker{native: nb}, nil
}

// Start starts an embedded broker for a test and shuts it down in t.Cleanup.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	b, err := StartBroker(opts...)
	if err != nil {
		t.Fatalf("starting the embedded broker: %v", err)
	}
	t.Cleanup(b.Shutdown)
	return b
}

// NameServer is the name server address ("127.0.0.1:port").
func (b *Broker) NameServer() string { return b.native.NameServer }

// Addr is the broker's own address.
func (b *Broker) Addr() string { return b.native.Broker }

// NameServers is the name server as a v2 NamesrvAddr, for producer.WithNameServer /
// consumer.WithNameServer.
func (b *Broker) NameServers() primitive.NamesrvAddr { return primitive.NamesrvAddr{b.NameServer()} }

// Resolver is a passthrough resolver of the name server, for WithNsResolver.
func (b *Broker) Resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{b.NameServer()})
}

// Shutdown stops the broker (idempotent).
func (b *Broker) Shutdown() { b.native.Shutdown() }
