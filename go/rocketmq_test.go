package rocketmq_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/rocketmq-rs/rocketmq-rs/go"
	"github.com/rocketmq-rs/rocketmq-rs/go/admin"
	"github.com/rocketmq-rs/rocketmq-rs/go/broker"
	"github.com/rocketmq-rs/rocketmq-rs/go/consumer"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
	"github.com/rocketmq-rs/rocketmq-rs/go/producer"
)

func startProducer(t *testing.T, b *broker.Broker, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	opts = append([]producer.Option{producer.WithNsResolver(b.Resolver()), producer.WithGroupName("p-" + t.Name())}, opts...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// collector gathers consumed messages.
type collector struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt
}

func (c *collector) add(m ...*primitive.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m...)
}

func (c *collector) snapshot() []*primitive.MessageExt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*primitive.MessageExt(nil), c.msgs...)
}

func (c *collector) waitFor(t *testing.T, n int, within time.Duration) []*primitive.MessageExt {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := c.snapshot(); len(got) >= n {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := c.snapshot()
	t.Fatalf("got %d messages within %v, want %d", len(got), within, n)
	return nil
}

func TestSendKindsAndPushConsumer(t *testing.T) {
	b := broker.Start(t)
	p := startProducer(t, b, producer.WithRetry(2), producer.WithSendMsgTimeout(5*time.Second))
	ctx := context.Background()
	topic := "TopicGoPlain"

	var lastOffset int64 = -1
	for i := 0; i < 3; i++ {
		msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("sync-%d", i))).WithTag("TagA").WithKeys([]string{"k1", "k2"})
		msg.WithProperty("color", "red")
		r, err := p.SendSync(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != primitive.SendOK || r.MsgID == "" || r.OffsetMsgID == "" || r.MessageQueue == nil || r.MessageQueue.Topic != topic {
			t.Fatalf("unexpected result %+v", r)
		}
		lastOffset = r.QueueOffset
	}
	if lastOffset < 0 {
		t.Fatal("no queue offset")
	}
	batch := []*primitive.Message{}
	for i := 0; i < 3; i++ {
		batch = append(batch, primitive.NewMessage(topic, []byte(fmt.Sprintf("batch-%d", i))).WithTag("TagA"))
	}
	r, err := p.SendSync(ctx, batch...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(r.MsgID, ",") != 2 {
		t.Fatalf("batch ids %q", r.MsgID)
	}
	if _, err := p.SendSync(ctx, primitive.NewMessage(topic, nil), primitive.NewMessage("Other", nil)); !errors.Is(err, producer.ErrMultipleTopics) {
		t.Fatalf("mixed topics: %v", err)
	}
	if err := p.SendOneWay(ctx, primitive.NewMessage(topic, []byte("oneway")).WithTag("TagA")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	var asyncErrs atomic.Int32
	for i := 0; i < 2; i++ {
		err := p.SendAsync(ctx, func(ctx context.Context, r *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || r.Status != primitive.SendOK {
				asyncErrs.Add(1)
			}
		}, primitive.NewMessage(topic, []byte("async")).WithTag("TagA"))
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if asyncErrs.Load() != 0 {
		t.Fatal("async send failed")
	}
	// A message with another tag is filtered out.
	if _, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("other-tag")).WithTag("TagZ")); err != nil {
		t.Fatal(err)
	}

	var got collector
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("c-plain"),
		consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumeMessageBatchMaxSize(4),
		consumer.WithConsumeGoroutineNums(4),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagB"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			if _, ok := primitive.GetConcurrentlyCtx(ctx); !ok {
				return consumer.ConsumeRetryLater, errors.New("no concurrently context")
			}
			got.add(msgs...)
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	msgs := got.waitFor(t, 9, 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	msgs = got.snapshot()
	if len(msgs) != 9 {
		t.Fatalf("consumed %d, want 9", len(msgs))
	}
	for _, m := range msgs {
		if m.GetTags() != "TagA" || m.Topic != topic || m.MsgId == "" || m.StoreHost == "" || m.Queue == nil {
			t.Fatalf("bad message %s", m)
		}
		if strings.HasPrefix(string(m.Body), "sync-") && (m.GetKeys() != "k1 k2" || m.GetProperty("color") != "red") {
			t.Fatalf("lost properties: %s", m)
		}
	}
	// Shut down: a second Shutdown is harmless, nothing more is delivered.
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

func TestNotStartedAndErrors(t *testing.T) {
	b := broker.Start(t)
	p, err := rocketmq.NewProducer(producer.WithNsResolver(b.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("T", nil)); !errors.Is(err, producer.ErrNotRunning) {
		t.Fatalf("send before start: %v", err)
	}
	if _, err := p.SendSync(context.Background()); err == nil {
		t.Fatal("empty send accepted")
	}
	if err := p.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// No name server: start fails with a message saying so.
	t.Setenv("NAMESRV_ADDR", "")
	p2, err := rocketmq.NewProducer(producer.WithGroupName("g-no-ns"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Start(); err == nil || !strings.Contains(err.Error(), "name server") {
		t.Fatalf("start without name server: %v", err)
	}
	_ = p2.Shutdown()
	// A push consumer without subscriptions cannot start.
	c, err := rocketmq.NewPushConsumer(consumer.WithNsResolver(b.Resolver()), consumer.WithGroupName("g-empty"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); !errors.Is(err, consumer.ErrNoListener) {
		t.Fatalf("start without subscription: %v", err)
	}
	_ = c.Shutdown()
	if rocketmq.NativeVersion() == "" {
		t.Fatal("no native version")
	}
}

func TestHashSelectorAndOrderlyConsumer(t *testing.T) {
	b := broker.Start(t)
	p := startProducer(t, b, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	topic := "TopicGoOrderly"
	queues := map[int]bool{}
	for i := 0; i < 12; i++ {
		key := fmt.Sprintf("order-%d", i%3)
		msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s:%d", key, i))).WithShardingKey(key)
		r, err := p.SendSync(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if key == "order-0" {
			queues[r.MessageQueue.QueueId] = true
		}
	}
	if len(queues) != 1 {
		t.Fatalf("one sharding key spread over queues %v", queues)
	}
	var got collector
	var panicked atomic.Bool
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("c-orderly"),
		consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumerOrder(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		if _, ok := primitive.GetOrderlyCtx(ctx); !ok {
			return consumer.ConsumeRetryLater, nil
		}
		// A panic in a callback is recovered and the messages come again.
		if panicked.CompareAndSwap(false, true) {
			panic("callback panic")
		}
		got.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	msgs := got.waitFor(t, 12, 60*time.Second)
	_ = c.Shutdown()
	last := map[string]int{}
	for _, m := range msgs {
		var key string
		var i int
		if _, err := fmt.Sscanf(strings.Replace(string(m.Body), ":", " ", 1), "%s %d", &key, &i); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[key]; ok && i <= prev {
			t.Fatalf("key %s out of order: %d after %d", key, i, prev)
		}
		last[key] = i
	}
}

func TestRetryLaterRedelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a delay level (10 s)")
	}
	b := broker.Start(t)
	p := startProducer(t, b)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicGoRetry", []byte("again"))); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var redelivered collector
	c, err := rocketmq.NewPushConsumer(
		consumer.WithGroupName("c-retry"),
		consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Subscribe("TopicGoRetry", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		if calls.Add(1) == 1 {
			return consumer.ConsumeRetryLater, nil
		}
		for _, m := range msgs {
			if m.ReconsumeTimes > 0 && m.Topic == "TopicGoRetry" {
				redelivered.add(m)
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	redelivered.waitFor(t, 1, 40*time.Second)
	_ = c.Shutdown()
}

type txListener struct {
	checks atomic.Int32
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch string(m.Body) {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	case "panic":
		panic("executor panic")
	}
	return primitive.UnkonwnState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	if string(m.Body) == "unknown" {
		l.checks.Add(1)
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

func TestTransactionProducer(t *testing.T) {
	b := broker.Start(t, broker.WithProperty("transactionTimeOut", "1000"), broker.WithProperty("transactionCheckInterval", "1000"))
	l := &txListener{}
	tp, err := rocketmq.NewTransactionProducer(l, producer.WithNsResolver(b.Resolver()), producer.WithGroupName("tx-group"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	want := map[string]primitive.LocalTransactionState{
		"commit": primitive.CommitMessageState, "rollback": primitive.RollbackMessageState,
		"unknown": primitive.UnkonwnState, "panic": primitive.UnkonwnState,
	}
	for body, state := range want {
		r, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicGoTx", []byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		if r.State != state || r.Status != primitive.SendOK {
			t.Fatalf("%s: state %v status %v", body, r.State, r.Status)
		}
	}
	var got collector
	c, err := rocketmq.NewPushConsumer(consumer.WithGroupName("c-tx"), consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Subscribe("TopicGoTx", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	msgs := got.waitFor(t, 2, 60*time.Second) // "commit" now, "unknown" after the check
	time.Sleep(500 * time.Millisecond)
	_ = c.Shutdown()
	if err := tp.Shutdown(); err != nil {
		t.Fatal(err)
	}
	bodies := map[string]bool{}
	for _, m := range got.snapshot() {
		bodies[string(m.Body)] = true
	}
	_ = msgs
	if !bodies["commit"] || !bodies["unknown"] || bodies["rollback"] || bodies["panic"] {
		t.Fatalf("visible transactional messages: %v", bodies)
	}
	if l.checks.Load() == 0 {
		t.Fatal("the checker was never asked")
	}
}

func TestPullConsumer(t *testing.T) {
	b := broker.Start(t)
	p := startProducer(t, b)
	topic := "TopicGoPull"
	for i := 0; i < 5; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprintf("pull-%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := rocketmq.NewPullConsumer(consumer.WithGroupName("c-pull"), consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	queues, err := pc.GetTopicRouteInfo(topic)
	if err != nil || len(queues) == 0 {
		t.Fatalf("route: %v %v", queues, err)
	}
	seen := 0
	deadline := time.Now().Add(30 * time.Second)
	for seen < 5 && time.Now().Before(deadline) {
		cr, err := pc.Poll(context.Background(), time.Second)
		if consumer.IsNoNewMsgError(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen += len(cr.GetMsgList())
		if cr.GetMQ() == nil || cr.GetMQ().Topic != topic {
			t.Fatalf("bad queue %v", cr.GetMQ())
		}
		pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
	}
	if seen != 5 {
		t.Fatalf("polled %d, want 5", seen)
	}
	total := 0
	for _, q := range queues {
		r, err := pc.PullFrom(context.Background(), q, 0, 32)
		if err != nil {
			t.Fatal(err)
		}
		total += len(r.GetMessageExts())
		off, err := pc.OffsetForTimestamp(q, 0)
		if err != nil || off != 0 {
			t.Fatalf("offset for timestamp 0: %d %v", off, err)
		}
	}
	if total != 5 {
		t.Fatalf("PullFrom found %d, want 5", total)
	}
}

func TestSQL92Selector(t *testing.T) {
	b := broker.Start(t, broker.WithProperty("enablePropertyFilter", "true"))
	p := startProducer(t, b)
	for i := 0; i < 6; i++ {
		m := primitive.NewMessage("TopicGoSql", []byte("sql"))
		m.WithProperty("a", fmt.Sprint(i))
		if _, err := p.SendSync(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	var got collector
	c, err := rocketmq.NewPushConsumer(consumer.WithGroupName("c-sql"), consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Subscribe("TopicGoSql", consumer.MessageSelector{Type: consumer.SQL92, Expression: "a > 2"},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			got.add(msgs...)
			return consumer.ConsumeSuccess, nil
		})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	got.waitFor(t, 3, 40*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, m := range got.snapshot() {
		if m.GetProperty("a") <= "2" {
			t.Fatalf("SQL92 let through a=%s", m.GetProperty("a"))
		}
	}
	if n := len(got.snapshot()); n != 3 {
		t.Fatalf("SQL92 delivered %d, want 3", n)
	}
}

func TestAdminFetchQueues(t *testing.T) {
	b := broker.Start(t)
	p := startProducer(t, b)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicGoAdmin", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	a, err := admin.NewAdmin(admin.WithResolver(b.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	qs, err := a.FetchPublishMessageQueues(context.Background(), "TopicGoAdmin")
	if err != nil || len(qs) == 0 {
		t.Fatalf("queues %v, %v", qs, err)
	}
}

// routeQueues waits up to within for the name server to list want readable queues of topic
// (0: no route), and returns what it saw last.
func routeQueues(t *testing.T, pc rocketmq.PullConsumer, topic string, want int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		qs, err := pc.GetTopicRouteInfo(topic)
		n := len(qs)
		if err != nil {
			n = 0
		}
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAdminCreateAndDeleteTopic(t *testing.T) {
	b := broker.Start(t)
	ctx := context.Background()
	a, err := admin.NewAdmin(admin.WithResolver(b.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Something that reads routes straight from the name server (no cache, no fallback).
	pc, err := rocketmq.NewPullConsumer(consumer.WithGroupName("c-admin"), consumer.WithNsResolver(b.Resolver()))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()

	topic := "TopicGoAdminCreated"
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic)); err == nil {
		t.Fatal("CreateTopic without WithBrokerAddrCreate succeeded")
	}
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(b.Addr()),
		admin.WithReadQueueNums(0)); err == nil || !strings.Contains(err.Error(), "readQueueNums") {
		t.Fatalf("CreateTopic with 0 read queues: %v", err)
	}
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(b.Addr()),
		admin.WithReadQueueNums(3), admin.WithWriteQueueNums(3), admin.WithPerm(6)); err != nil {
		t.Fatal(err)
	}
	if n := routeQueues(t, pc, topic, 3, 20*time.Second); n != 3 {
		t.Fatalf("%d queues after CreateTopic, want 3", n)
	}
	listed := func(name string) bool {
		t.Helper()
		l, err := a.FetchAllTopicList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range l.TopicList {
			if n == name {
				return true
			}
		}
		return false
	}
	if !listed(topic) || !listed("TBW102") {
		t.Fatal("FetchAllTopicList misses the created topic or TBW102")
	}
	// v2's defaults: 8 queues.
	defaults := "TopicGoAdminDefaults"
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(defaults), admin.WithBrokerAddrCreate(b.Addr())); err != nil {
		t.Fatal(err)
	}
	if n := routeQueues(t, pc, defaults, 8, 20*time.Second); n != 8 {
		t.Fatalf("%d queues with the default options, want 8", n)
	}

	// Brokers and name servers found from the route and the admin's resolver.
	if err := a.DeleteTopic(ctx, admin.WithTopicDelete(topic)); err != nil {
		t.Fatal(err)
	}
	if n := routeQueues(t, pc, topic, 0, 20*time.Second); n != 0 {
		t.Fatalf("%d queues after DeleteTopic", n)
	}
	if listed(topic) {
		t.Fatal("FetchAllTopicList still lists the deleted topic")
	}
	// Without a route and no broker address there is nothing to delete from.
	if err := a.DeleteTopic(ctx, admin.WithTopicDelete(topic)); err == nil {
		t.Fatal("deleting a topic without a route and without a broker address succeeded")
	}
	// Told where, as v2's examples do.
	if err := a.DeleteTopic(ctx, admin.WithTopicDelete(defaults), admin.WithBrokerAddrDelete(b.Addr()),
		admin.WithNameSrvAddr([]string{b.NameServer()})); err != nil {
		t.Fatal(err)
	}
	if n := routeQueues(t, pc, defaults, 0, 20*time.Second); n != 0 {
		t.Fatalf("%d queues after DeleteTopic with addresses", n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.CreateTopic(cancelled, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(b.Addr())); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateTopic with a cancelled context: %v", err)
	}
}

func TestPushConsumerOffsetDiffMap(t *testing.T) {
	b := broker.Start(t)
	p := startProducer(t, b)
	topic := "TopicGoOffsetDiff"
	for i := 0; i < 6; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("diff"))); err != nil {
			t.Fatal(err)
		}
	}
	c, err := rocketmq.NewPushConsumer(consumer.WithGroupName("c-diff"), consumer.WithNsResolver(b.Resolver()),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset), consumer.WithConsumeGoroutineNums(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.GetOffsetDiffMap(); len(d) != 0 {
		t.Fatalf("diff map before Start: %v", d)
	}
	// The callback holds its first delivery: nothing is consumed until it is released.
	held, release := make(chan struct{}, 1), make(chan struct{})
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		select {
		case held <- struct{}{}:
		default:
		}
		<-release
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		_ = c.Shutdown()
	}()
	waitDiff := func(want int64) map[string]int64 {
		deadline := time.Now().Add(30 * time.Second)
		for {
			d := c.GetOffsetDiffMap()
			if v, ok := d[topic]; (ok && v == want) || time.Now().After(deadline) {
				return d
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
	}
	if d := waitDiff(6); d[topic] != 6 {
		t.Fatalf("diff map while holding: %v, want %s: 6", d, topic)
	}
	close(release)
	released = true
	if d := waitDiff(0); d[topic] != 0 || len(d) != 1 {
		t.Fatalf("diff map after consuming: %v, want %s: 0", d, topic)
	}
}
