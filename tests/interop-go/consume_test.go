package interop

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// A clustering push consumer gets every message with its body (text,
// binary, NUL bytes, a body large enough to be compressed on the wire),
// tag, keys and user properties unchanged, and with the queue, offsets and
// ids the send reported.
func TestConsumeKeepsBodyTagKeysProperties(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)

	allBytes := make([]byte, 512)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	large := make([]byte, 64*1024) // over the client's 4 KiB compression threshold
	rand.New(rand.NewSource(7)).Read(large)
	cases := []struct {
		name string
		body []byte
	}{
		{"text", []byte("hello, rocketmq")},
		{"utf8", []byte("grüße, мир, 世界 ✓")},
		{"all byte values", allBytes},
		{"only NULs", make([]byte, 16)},
		{"NUL inside", []byte("a\x00b\x00\x00c\x01\x02\n")},
		{"compressed on the wire", large},
	}

	type sent struct {
		msg *primitive.Message
		res *primitive.SendResult
	}
	byID := map[string]sent{}
	before := time.Now().UnixMilli()
	for i, c := range cases {
		m := primitive.NewMessage(topic, c.body)
		m.WithTag(fmt.Sprintf("Tag%d", i))
		m.WithKeys([]string{fmt.Sprintf("order-%d", i), "user-42"})
		m.WithProperty("case", c.name)
		m.WithProperty("unicode", "héllo wörld ✓")
		m.WithProperty("punctuation", `a=b:c;d,e "q" {j}`)
		res := sendOK(t, p, m)
		checkSendResult(t, res, topic)
		byID[res.MsgID] = sent{m, res}
	}
	after := time.Now().UnixMilli()

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	waitFor(t, deliveryTimeout, "all messages", func() bool {
		seen := map[string]bool{}
		for _, m := range in.all() {
			seen[m.MsgId] = true
		}
		return len(seen) >= len(cases)
	})

	got := in.all()
	if len(got) != len(cases) {
		t.Errorf("%d deliveries, want %d", len(got), len(cases))
	}
	for _, m := range got {
		s, ok := byID[m.MsgId]
		if !ok {
			t.Errorf("unexpected message id %s (body %q)", m.MsgId, short(string(m.Body)))
			continue
		}
		name := s.msg.GetProperty("case")
		if !bytes.Equal(m.Body, s.msg.Body) {
			t.Errorf("%s: body differs: got %d bytes %q, sent %d bytes", name, len(m.Body), short(string(m.Body)), len(s.msg.Body))
		}
		if m.Topic != topic {
			t.Errorf("%s: topic %q, want %q", name, m.Topic, topic)
		}
		if m.GetTags() != s.msg.GetTags() {
			t.Errorf("%s: tags %q, want %q", name, m.GetTags(), s.msg.GetTags())
		}
		if m.GetKeys() != s.msg.GetKeys() {
			t.Errorf("%s: keys %q, want %q", name, m.GetKeys(), s.msg.GetKeys())
		}
		for _, k := range []string{"case", "unicode", "punctuation"} {
			if m.GetProperty(k) != s.msg.GetProperty(k) {
				t.Errorf("%s: property %s = %q, want %q", name, k, m.GetProperty(k), s.msg.GetProperty(k))
			}
		}
		if m.Queue.QueueId != s.res.MessageQueue.QueueId || m.QueueOffset != s.res.QueueOffset {
			t.Errorf("%s: at queue %d offset %d, the send said queue %d offset %d", name,
				m.Queue.QueueId, m.QueueOffset, s.res.MessageQueue.QueueId, s.res.QueueOffset)
		}
		if m.OffsetMsgId != s.res.OffsetMsgID {
			t.Errorf("%s: offset msg id %s, the send said %s", name, m.OffsetMsgId, s.res.OffsetMsgID)
		}
		if m.ReconsumeTimes != 0 {
			t.Errorf("%s: reconsume times %d on first delivery", name, m.ReconsumeTimes)
		}
		if m.BornTimestamp < before || m.BornTimestamp > after {
			t.Errorf("%s: born timestamp %d outside the send window [%d, %d]", name, m.BornTimestamp, before, after)
		}
		if m.StoreTimestamp < before-1000 || m.StoreTimestamp > after+1000 {
			t.Errorf("%s: store timestamp %d far from the send window [%d, %d]", name, m.StoreTimestamp, before, after)
		}
		if m.StoreHost != brokerAddr() {
			t.Errorf("%s: store host %q, want %q", name, m.StoreHost, brokerAddr())
		}
		if m.BornHost == "" {
			t.Errorf("%s: empty born host", name)
		}
	}
}

// Broadcasting: two consumers of one group each get every message once.
func TestBroadcastingEachConsumerGetsEveryMessage(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	want := bodies("bcast", 12)
	for _, m := range messages(topic, want) {
		sendOK(t, p, m)
	}

	group := uniqueName(t, "G")
	a, b := &inbox{}, &inbox{}
	startConsumer(t, group, topic, a, consumer.WithConsumerModel(consumer.BroadCasting))
	startConsumer(t, group, topic, b, consumer.WithConsumerModel(consumer.BroadCasting))
	a.waitBodies(t, "consumer A", want)
	b.waitBodies(t, "consumer B", want)
}

// allocationRecorder wraps the default queue allocation and remembers the
// latest result per topic, so a test can tell when a rebalance has settled.
type allocationRecorder struct {
	mu   sync.Mutex
	last map[string]allocation
}

type allocation struct {
	consumers int
	queues    []int
}

func (r *allocationRecorder) strategy(group, cid string, mqAll []*primitive.MessageQueue, cidAll []string) []*primitive.MessageQueue {
	mine := consumer.AllocateByAveragely(group, cid, mqAll, cidAll)
	if len(mqAll) > 0 {
		qs := make([]int, 0, len(mine))
		for _, mq := range mine {
			qs = append(qs, mq.QueueId)
		}
		sort.Ints(qs)
		r.mu.Lock()
		if r.last == nil {
			r.last = map[string]allocation{}
		}
		r.last[mqAll[0].Topic] = allocation{consumers: len(cidAll), queues: qs}
		r.mu.Unlock()
	}
	return mine
}

func (r *allocationRecorder) get(topic string) allocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[topic]
}

// Clustering: two consumers of one group split the topic's queues between
// them and together receive each message exactly once.
func TestClusteringConsumersSplitQueues(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	// The topic must exist before the consumers start; this message may be
	// seen twice while the queues move between them, so it is not counted.
	sendOK(t, p, primitive.NewMessage(topic, []byte("prime")))

	group := uniqueName(t, "G")
	t.Logf("topic %s, group %s", topic, group)
	recA, recB := &allocationRecorder{}, &allocationRecorder{}
	a, b := &inbox{}, &inbox{}
	startConsumer(t, group, topic, a, consumer.WithStrategy(recA.strategy))
	startConsumer(t, group, topic, b, consumer.WithStrategy(recB.strategy))

	// Settled: both saw two consumers and their shares partition the queues.
	waitFor(t, deliveryTimeout, "both consumers to rebalance onto half the queues each", func() bool {
		x, y := recA.get(topic), recB.get(topic)
		if x.consumers != 2 || y.consumers != 2 || len(x.queues) == 0 || len(y.queues) == 0 {
			return false
		}
		seen := map[int]bool{}
		for _, q := range append(append([]int(nil), x.queues...), y.queues...) {
			if seen[q] {
				return false
			}
			seen[q] = true
		}
		return len(seen) == 4
	})
	shareA, shareB := recA.get(topic).queues, recB.get(topic).queues
	t.Logf("queues: A %v, B %v", shareA, shareB)

	want := bodies("split", 40)
	for _, m := range messages(topic, want) {
		sendOK(t, p, m)
	}
	waitFor(t, deliveryTimeout, "the group to receive all messages", func() bool {
		counts := a.countByBody()
		for body, n := range b.countByBody() {
			counts[body] += n
		}
		for _, w := range want {
			if counts[w] == 0 {
				return false
			}
		}
		return true
	})

	total := map[string]int{}
	for who, in := range map[string]*inbox{"A": a, "B": b} {
		share := shareA
		if who == "B" {
			share = shareB
		}
		n := 0
		for _, m := range in.all() {
			if string(m.Body) == "prime" {
				continue
			}
			total[string(m.Body)]++
			n++
			if !containsInt(share, m.Queue.QueueId) {
				t.Errorf("consumer %s got %s from queue %d, outside its share %v", who, m.Body, m.Queue.QueueId, share)
			}
		}
		if n == 0 {
			t.Errorf("consumer %s received nothing; the queues were not split", who)
		}
		t.Logf("consumer %s: %d messages", who, n)
	}
	requireExactly(t, "the group", total, want)
}

// A consumer restarted in the same group resumes at the offsets its
// predecessor committed on Shutdown: it gets only the newer messages.
func TestConsumerResumesFromCommittedOffset(t *testing.T) {
	topic := uniqueName(t, "T")
	group := uniqueName(t, "G")
	t.Logf("topic %s, group %s", topic, group)
	p := newProducer(t)
	var sent sentLog
	old := bodies("old", 10)
	sent.send(t, p, topic, old)

	first := &inbox{}
	c := startConsumer(t, group, topic, first)
	first.waitBodies(t, "first consumer", old)
	waitCaughtUp(t, c, topic)
	if err := c.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stored := committedOnShutdown(t, group, topic, sent.ends())

	// The Go client sends no UNREGISTER_CLIENT: the broker must drop the
	// first consumer when its connection closes, or the second one would
	// share the queues with a consumer that is gone.
	var opts []consumer.Option
	if left, ok := waitNoConsumers(t, group); !ok {
		if target.kind != "java" {
			t.Fatalf("the broker still lists %v in %s after their connections closed", left, group)
		}
		// Apache RocketMQ 4.9 can register a heartbeat that it dequeues
		// after the connection's close event (the Go client sends one right
		// after its first rebalance), leaving a stale entry for 120 s.
		t.Logf("known Java broker race: %v still registered after close; the next consumer takes every queue itself", left)
		opts = append(opts, consumer.WithStrategy(allQueues))
	}

	newer := bodies("new", 6)
	sent.send(t, p, topic, newer)
	second := &inbox{}
	startConsumer(t, group, topic, second, opts...)
	second.waitBodies(t, "second consumer", append(sent.from(stored, old), newer...))
}

// waitNoConsumers waits a bounded time for the broker to list no consumer
// in group; it returns the last list seen and whether it became empty.
func waitNoConsumers(t *testing.T, group string) ([]string, bool) {
	t.Helper()
	deadline := time.Now().Add(scaled(10 * time.Second))
	for {
		left, err := groupConsumers(group)
		if err == nil && len(left) == 0 {
			return nil, true
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("consumer list of %s: %v", group, err)
			}
			return left, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allQueues is an allocation strategy that takes every queue whatever
// other consumers the broker lists.
func allQueues(_, _ string, mqAll []*primitive.MessageQueue, _ []string) []*primitive.MessageQueue {
	return mqAll
}

// Starting a consumer on a topic the name server does not know fails: the
// client needs a route to subscribe.
func TestConsumerStartFailsForUnknownTopic(t *testing.T) {
	requireBroker(t)
	topic := uniqueName(t, "Missing")
	c := newConsumer(t, uniqueName(t, "G"))
	if err := c.Subscribe(topic, consumer.MessageSelector{}, (&inbox{}).consume); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	err := c.Start()
	if err == nil {
		t.Fatalf("consumer of the unknown topic %s started", topic)
	}
	if !strings.Contains(err.Error(), "route info not found") {
		t.Errorf("error %q: want the client's missing-route error", err)
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
