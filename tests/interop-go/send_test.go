package interop

import (
	"context"
	"crypto/rand"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Sync sends to a new (auto-created) topic: every result is SEND_OK with a
// client id, a broker id naming the broker under test, dense per-queue
// offsets from 0, and commitlog offsets that grow; a consumer then finds
// exactly those messages.
func TestSendSync(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	want := bodies("sync", 8)

	byQueue := map[int][]int64{}
	var lastCommitLog int64 = -1
	for _, m := range messages(topic, want) {
		res := sendOK(t, p, m)
		checkSendResult(t, res, topic)
		byQueue[res.MessageQueue.QueueId] = append(byQueue[res.MessageQueue.QueueId], res.QueueOffset)
		if mid := checkOffsetMsgID(t, res.OffsetMsgID); mid != nil {
			if mid.Offset <= lastCommitLog {
				t.Errorf("commitlog offset %d after %d: sequential sends must grow", mid.Offset, lastCommitLog)
			}
			lastCommitLog = mid.Offset
		}
	}
	checkQueueOffsetsDense(t, byQueue, map[int]int64{})
	if len(byQueue) < 2 {
		t.Errorf("8 round-robin sends used queues %v, want several", byQueue)
	}

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "consumer", want)
}

// Async sends: every callback reports SEND_OK, offsets are dense per queue,
// and the messages are stored.
func TestSendAsync(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	want := bodies("async", 8)
	// The first send creates the topic; the rest go out without waiting.
	first := sendOK(t, p, primitive.NewMessage(topic, []byte(want[0])))
	checkSendResult(t, first, topic)

	var (
		mu      sync.Mutex
		results []*primitive.SendResult
		errs    []error
	)
	for _, m := range messages(topic, want[1:]) {
		err := p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			results = append(results, res)
		}, m)
		if err != nil {
			t.Fatalf("SendAsync: %v", err)
		}
	}
	waitFor(t, sendTimeout, "all async send callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(results)+len(errs) == len(want)-1
	})
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		t.Errorf("async send failed: %v", err)
	}
	byQueue := map[int][]int64{first.MessageQueue.QueueId: {first.QueueOffset}}
	ids := map[string]bool{first.MsgID: true}
	for _, res := range results {
		checkSendResult(t, res, topic)
		byQueue[res.MessageQueue.QueueId] = append(byQueue[res.MessageQueue.QueueId], res.QueueOffset)
		if ids[res.MsgID] {
			t.Errorf("duplicate MsgID %s", res.MsgID)
		}
		ids[res.MsgID] = true
	}
	checkQueueOffsetsDense(t, byQueue, map[int]int64{})

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "consumer", want)
}

// Oneway sends return no result; a consumer must find every message, with
// dense queue offsets.
func TestSendOneWay(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	want := bodies("oneway", 8)
	// A oneway send to an unknown topic would also auto-create it, but an
	// error would go unnoticed; create the topic with a checked sync send.
	sendOK(t, p, primitive.NewMessage(topic, []byte(want[0])))
	for _, m := range messages(topic, want[1:]) {
		if err := p.SendOneWay(sendCtx(t), m); err != nil {
			t.Fatalf("SendOneWay: %v", err)
		}
	}

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "consumer", want)
	byQueue := map[int][]int64{}
	for _, m := range in.all() {
		byQueue[m.Queue.QueueId] = append(byQueue[m.Queue.QueueId], m.QueueOffset)
	}
	checkQueueOffsetsDense(t, byQueue, map[int]int64{})
}

// A batch (SEND_BATCH_MESSAGE) lands in one queue as consecutive messages,
// each keeping its own tag and properties. The broker answers with one
// offset msg id per message.
func TestSendBatch(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	// The first send creates the topic; batches to unknown topics work too
	// but the ordinary path is the common one.
	sendOK(t, p, primitive.NewMessage(topic, []byte("batch-first")))

	want := bodies("batch", 10)
	msgs := messages(topic, want)
	for i, m := range msgs {
		m.WithTag("BatchTag")
		m.WithProperty("index", want[i])
	}
	res := sendOK(t, p, msgs...)
	if res.MessageQueue == nil || res.MessageQueue.Topic != topic {
		t.Fatalf("batch result queue %v, want topic %s", res.MessageQueue, topic)
	}
	// v2.1.2 sets no UNIQ_KEY on batched messages, so MsgID is empty here;
	// the broker's ids are the proof of storage.
	ids := strings.Split(res.OffsetMsgID, ",")
	if len(ids) != len(want) {
		t.Fatalf("batch OffsetMsgID %q: %d ids, want %d", res.OffsetMsgID, len(ids), len(want))
	}
	var last int64 = -1
	for _, id := range ids {
		if mid := checkOffsetMsgID(t, id); mid != nil {
			if mid.Offset <= last {
				t.Errorf("batch commitlog offsets not increasing: %q", res.OffsetMsgID)
			}
			last = mid.Offset
		}
	}
	if res.QueueOffset < 0 {
		t.Errorf("batch queue offset %d", res.QueueOffset)
	}

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "consumer", append([]string{"batch-first"}, want...))
	for _, m := range in.all() {
		body := string(m.Body)
		if body == "batch-first" {
			continue
		}
		i := indexOf(want, body)
		if m.Queue.QueueId != res.MessageQueue.QueueId {
			t.Errorf("%s in queue %d, want the batch's queue %d", body, m.Queue.QueueId, res.MessageQueue.QueueId)
		}
		if want := res.QueueOffset + int64(i); m.QueueOffset != want {
			t.Errorf("%s at queue offset %d, want %d (batch order)", body, m.QueueOffset, want)
		}
		if m.OffsetMsgId != ids[i] {
			t.Errorf("%s has offset msg id %s, the send result said %s", body, m.OffsetMsgId, ids[i])
		}
		if m.GetTags() != "BatchTag" || m.GetProperty("index") != body {
			t.Errorf("%s lost its tag or property: tags=%q index=%q", body, m.GetTags(), m.GetProperty("index"))
		}
	}
}

// A body over the broker's maxMessageSize (4 MiB by default) is refused by
// the broker with MESSAGE_ILLEGAL (13); the producer keeps working.
func TestSendOversizedBodyFails(t *testing.T) {
	topic := uniqueName(t, "T")
	// No compression, so the broker sees the body at full size.
	p := newProducer(t, producer.WithCompressMsgBodyOverHowmuch(math.MaxInt32))
	sendOK(t, p, primitive.NewMessage(topic, []byte("small-before")))

	big := make([]byte, 4*1024*1024+1024)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := p.SendSync(sendCtx(t), primitive.NewMessage(topic, big))
	if err == nil {
		t.Fatalf("sending a %d-byte body succeeded (%v); want the broker to refuse it", len(big), res)
	}
	t.Logf("refused after %v: %v", time.Since(began).Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "CODE: 13") {
		t.Errorf("error %q: want the broker's MESSAGE_ILLEGAL (code 13)", err)
	}

	sendOK(t, p, primitive.NewMessage(topic, []byte("small-after")))
	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "consumer", []string{"small-before", "small-after"})
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
