package interop

import (
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Two orderly consumers (WithConsumerOrder) of one group split the queues,
// each holding the broker's lock on its own; when one leaves in the middle
// of the stream the other takes its queues over. Every message is consumed;
// each consumer sees every queue in offset order without gaps and every
// sharding key in send order; a message is consumed twice only across the
// handover, once by each consumer.
//
// Both consumers allocate nothing until the group has both members. Without
// that gate the first to start would lock all four queues, and the Go client
// v2.1.2 does not unlock a queue that a rebalance takes away from it (only
// Shutdown unlocks), so the second would wait for the broker's lock to expire
// (60 s).
func TestOrderlyConsumersKeepQueueOrder(t *testing.T) {
	const (
		queues     = 4
		keys       = 8 // two per queue
		firstBatch = 5 // per key, before the consumers start
		laterBatch = 20
	)
	topic := uniqueName(t, "T")
	group := uniqueName(t, "G")

	// The first message creates the topic and names its broker.
	created := sendOK(t, newProducer(t), primitive.NewMessage(topic, []byte("create")))
	broker := created.MessageQueue.BrokerName
	p := newProducer(t, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	type pos struct {
		key, seq int
		queue    int
		offset   int64
	}
	sent := map[string]pos{"create": {-1, 0, created.MessageQueue.QueueId, created.QueueOffset}}
	var order []string
	send := func(from, to int) {
		t.Helper()
		for seq := from; seq < to; seq++ {
			for k := 0; k < keys; k++ {
				body := fmt.Sprintf("key%d-%03d", k, seq)
				m := primitive.NewMessage(topic, []byte(body))
				m.WithShardingKey(fmt.Sprintf("key%d", k))
				m.WithProperty("seq", strconv.Itoa(seq))
				m.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: k % queues}
				res := sendOK(t, p, m)
				if res.MessageQueue.QueueId != k%queues {
					t.Fatalf("%s went to queue %d, the manual selector chose %d", body, res.MessageQueue.QueueId, k%queues)
				}
				sent[body] = pos{k, seq, k % queues, res.QueueOffset}
				order = append(order, body)
			}
		}
	}
	send(0, firstBatch)

	var both atomic.Bool
	gate := func(g, cid string, mqAll []*primitive.MessageQueue, cidAll []string) []*primitive.MessageQueue {
		if len(cidAll) >= 2 {
			both.Store(true)
		}
		if !both.Load() {
			return nil
		}
		return consumer.AllocateByAveragely(g, cid, mqAll, cidAll)
	}
	rec := &recorder{work: 15 * time.Millisecond}
	opts := []consumer.Option{consumer.WithConsumerOrder(true), consumer.WithStrategy(gate)}
	a := rec.subscribeAndStart(t, "A", group, topic, consumer.MessageSelector{}, opts...)
	rec.subscribeAndStart(t, "B", group, topic, consumer.MessageSelector{}, opts...)
	rec.waitAll(t, deliveryTimeout, "the two consumers", order)

	// Both took part, each with its own queues.
	owner := map[int]string{}
	for _, d := range rec.all() {
		q := d.msg.Queue.QueueId
		if o, ok := owner[q]; ok && o != d.by {
			t.Errorf("queue %d consumed by both %s and %s while both ran", q, o, d.by)
		}
		owner[q] = d.by
	}
	t.Logf("queue owners: %v", owner)
	byA := 0
	for _, o := range owner {
		if o == "A" {
			byA++
		}
	}
	if byA == 0 || byA == len(owner) {
		t.Fatalf("queue owners %v: want the queues split between A and B", owner)
	}

	// More messages, and A leaves while it still has some of them to do.
	send(firstBatch, firstBatch+laterBatch)
	delivered := func(by string) int {
		n := 0
		for _, d := range rec.all() {
			if d.by == by {
				n++
			}
		}
		return n
	}
	doneA := delivered("A")
	waitFor(t, deliveryTimeout, "A to consume some of the later messages", func() bool {
		return delivered("A") >= doneA+5
	})
	left := time.Now()
	if err := a.Shutdown(); err != nil {
		t.Fatalf("shutdown A: %v", err)
	}
	t.Logf("A left after %d deliveries", delivered("A"))
	rec.waitAll(t, deliveryTimeout+scaled(20*time.Second), "B after A left", order)

	all := rec.all()
	// Every consumer: each queue in offset order, no gaps; each key in
	// send order; nothing twice.
	type cq struct {
		by    string
		queue int
	}
	last := map[cq]int64{}
	lastSeq := map[string]int{}
	seen := map[string]map[string]bool{} // consumer -> bodies
	for _, d := range all {
		body := string(d.msg.Body)
		s, ok := sent[body]
		if !ok {
			t.Errorf("%s consumed an unexpected message %q", d.by, body)
			continue
		}
		if d.msg.Queue.QueueId != s.queue || d.msg.QueueOffset != s.offset {
			t.Errorf("%s consumed %s at queue %d offset %d, the send said %d/%d", d.by, body, d.msg.Queue.QueueId, d.msg.QueueOffset, s.queue, s.offset)
		}
		if seen[d.by] == nil {
			seen[d.by] = map[string]bool{}
		}
		if seen[d.by][body] {
			t.Errorf("%s consumed %s twice", d.by, body)
		}
		seen[d.by][body] = true
		k := cq{d.by, s.queue}
		if prev, ok := last[k]; ok && s.offset != prev+1 {
			t.Errorf("%s consumed queue %d offset %d right after offset %d", d.by, s.queue, s.offset, prev)
		}
		last[k] = s.offset
		if s.key >= 0 {
			kk := fmt.Sprintf("%s/key%d", d.by, s.key)
			if prev, ok := lastSeq[kk]; ok && s.seq <= prev {
				t.Errorf("%s consumed key%d seq %d after seq %d", d.by, s.key, s.seq, prev)
			}
			lastSeq[kk] = s.seq
		}
	}

	// Twice only across the handover: by A, then by B, on A's queues.
	tookOver := 0
	var dups []string
	for _, d := range all {
		body := string(d.msg.Body)
		q := sent[body].queue
		if d.by == "B" && owner[q] == "A" && d.at.After(left) {
			tookOver++
		}
		if seen["A"][body] && seen["B"][body] && d.by == "B" {
			dups = append(dups, body)
			if owner[q] != "A" {
				t.Errorf("%s consumed by A and B, but its queue %d was never A's", body, q)
			}
		}
	}
	sort.Strings(dups)
	t.Logf("B consumed %d messages of A's queues after A left; %d consumed by both across the handover %v", tookOver, len(dups), dups)
	if tookOver == 0 {
		t.Errorf("B consumed nothing of A's queues after A left: the handover was not exercised")
	}
}
