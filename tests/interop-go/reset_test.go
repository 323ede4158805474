package interop

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// resetFixture is a topic with messages "before-*", a pause, then
// "after-*", all consumed by group; resetAt lies in the pause.
type resetFixture struct {
	topic, group string
	sent         sentLog
	before       []string
	after        []string
	resetAt      int64         // epoch ms
	firstAfter   map[int]int64 // queue -> offset of its first "after" message
}

// The pause between the batches. When no message of a queue has exactly
// the asked time, Apache RocketMQ 4.9 answers with the nearer of the two
// neighbours, so the first "after" message must be stored much closer to
// resetAt than the last "before" one.
const resetGap = 3 * time.Second

func newResetFixture(t *testing.T, rec *recorder) (*resetFixture, rocketmq.PushConsumer) {
	t.Helper()
	f := &resetFixture{topic: uniqueName(t, "T"), group: uniqueName(t, "G"),
		before: bodies("before", 8), after: bodies("after", 8)}
	p := newProducer(t)
	f.sent.send(t, p, f.topic, f.before)
	c := rec.subscribeAndStart(t, "consumer", f.group, f.topic, consumer.MessageSelector{})
	rec.waitAll(t, deliveryTimeout, "consumer", f.before)

	f.resetAt = time.Now().Add(scaled(resetGap)).UnixMilli()
	// Waiting for the clock, not for an event.
	for time.Now().UnixMilli() <= f.resetAt {
		time.Sleep(10 * time.Millisecond)
	}
	ends := f.sent.ends()
	f.sent.send(t, p, f.topic, f.after)
	f.firstAfter = map[int]int64{}
	for q := range f.sent.ends() {
		if ends[q] < f.sent.ends()[q] {
			f.firstAfter[q] = ends[q]
		}
	}
	if len(f.firstAfter) < 2 {
		t.Fatalf("the later messages landed in queues %v only; want them spread", f.firstAfter)
	}
	rec.waitAll(t, deliveryTimeout, "consumer", append(append([]string(nil), f.before...), f.after...))
	requireExactly(t, "consumer before the reset", rec.countByBody(), append(append([]string(nil), f.before...), f.after...))
	waitCaughtUp(t, c, f.topic)
	return f, c
}

// resetTable reads the offset table of a reset response body. The brokers
// write it fastjson style, with message queue objects as map keys:
// {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:5,...}}.
func resetTable(t *testing.T, body []byte) map[int]int64 {
	t.Helper()
	table := map[int]int64{}
	for _, m := range resetEntry.FindAllSubmatch(body, -1) {
		var mq primitive.MessageQueue
		if err := json.Unmarshal(m[1], &mq); err != nil {
			t.Fatalf("reset response entry %s: %v", m[1], err)
		}
		off, _ := strconv.ParseInt(string(m[2]), 10, 64)
		table[mq.QueueId] = off
	}
	return table
}

var resetEntry = regexp.MustCompile(`(\{[^{}]*\}):(-?\d+)`)

// INVOKE_BROKER_TO_RESET_OFFSET with a live consumer: the broker computes
// each queue's offset at the timestamp and sends RESET_CONSUMER_CLIENT_OFFSET
// to the group's clients; the Go client drops its queues, waits 10 s, takes
// the new offsets and pulls again, so everything stored after the timestamp
// is delivered a second time and nothing before it.
func TestResetOffsetRedeliversFromTimestamp(t *testing.T) {
	rec := &recorder{}
	f, _ := newResetFixture(t, rec)
	// The genuine broker resets only a group whose offsets it has.
	waitCommitted(t, f.group, f.topic, f.sent.ends())

	again := append(append([]string(nil), f.before...), f.after...)
	redelivered := func() (bool, string) {
		counts := rec.countByBody()
		for _, b := range f.after {
			if counts[b] < 2 {
				return false, fmt.Sprintf("%s delivered %d times", b, counts[b])
			}
		}
		return true, ""
	}
	// The Go client applies a reset after sleeping 10 s: it commits the new
	// offsets with oneway requests and at once reads them back with another
	// request to resume pulling. Both brokers serve requests of one
	// connection concurrently (ours a task per request, Java a thread pool
	// per request kind), so now and then the read overtakes the commit and
	// the client resumes at its old offsets (seen once in several runs on
	// each). So the reset is tried up to three times.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		resp, body, err := resetOffsetByTime(f.group, f.topic, f.resetAt)
		if err != nil {
			t.Fatalf("reset offset: %v", err)
		}
		if resp.Code != codeSuccess {
			t.Fatalf("reset offset: code %d %s", resp.Code, resp.Remark)
		}
		got := resetTable(t, body)
		t.Logf("reset to %d: %s", f.resetAt, body)
		for q, want := range f.firstAfter {
			if got[q] != want {
				t.Errorf("reset offset of queue %d is %d, want %d (its first message stored after the timestamp)", q, got[q], want)
			}
		}
		if attempt == attempts {
			waitUntil(t, deliveryTimeout+scaled(10*time.Second), "the later messages a second time", redelivered)
			break
		}
		deadline := time.Now().Add(scaled(25 * time.Second))
		for time.Now().Before(deadline) {
			if ok, _ := redelivered(); ok {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ok, state := redelivered(); ok {
			break
		} else {
			t.Logf("reset attempt %d not applied by the client within %v (%s); again", attempt, scaled(25*time.Second), state)
		}
	}
	counts := rec.countByBody()
	for _, b := range again {
		want := 1
		if first, ok := f.firstAfter[f.sent.pos[b].queue]; ok && f.sent.pos[b].offset >= first {
			want = 2
		}
		if counts[b] != want {
			t.Errorf("%s delivered %d times, want %d", b, counts[b], want)
		}
	}
	for _, b := range f.after {
		for _, d := range rec.of(b) {
			if p := f.sent.pos[b]; d.msg.Queue.QueueId != p.queue || d.msg.QueueOffset != p.offset {
				t.Errorf("%s delivered at %d/%d, sent to %d/%d", b, d.msg.Queue.QueueId, d.msg.QueueOffset, p.queue, p.offset)
			}
		}
	}
}

// The same reset with no consumer online. Our broker stores the group's new
// offsets itself, so a consumer started later resumes from the timestamp.
func TestResetOffsetOfStoppedGroup(t *testing.T) {
	rec := &recorder{}
	f, c := newResetFixture(t, rec)
	if err := c.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	committedOnShutdown(t, f.group, f.topic, f.sent.ends())
	waitUntil(t, deliveryTimeout, "the broker to drop the stopped consumer", func() (bool, string) {
		ids, err := groupConsumers(f.group)
		if err != nil {
			return false, err.Error()
		}
		return len(ids) == 0, fmt.Sprint(ids)
	})

	resp, body, err := resetOffsetByTime(f.group, f.topic, f.resetAt)
	if err != nil {
		t.Fatalf("reset offset: %v", err)
	}
	if target.kind == "java" {
		if resp.Code != codeConsumerNotOnline {
			t.Errorf("reset of a group without consumers: code %d %s, want %d (CONSUMER_NOT_ONLINE)", resp.Code, resp.Remark, codeConsumerNotOnline)
		}
		t.Skipf("Apache RocketMQ 4.9 resets offsets only through live consumers (answered %d %q); "+
			"mqadmin then writes the offsets itself", resp.Code, resp.Remark)
	}
	if resp.Code != codeSuccess {
		t.Fatalf("reset offset: code %d %s", resp.Code, resp.Remark)
	}
	got := resetTable(t, body)
	for q, want := range f.firstAfter {
		if got[q] != want {
			t.Errorf("reset offset of queue %d is %d, want %d (its first message stored after the timestamp)", q, got[q], want)
		}
	}
	stored := map[int]int64{}
	for q := range f.sent.ends() {
		stored[q] = f.sent.ends()[q]
		if off, ok := f.firstAfter[q]; ok {
			stored[q] = off
		}
	}
	waitCommitted(t, f.group, f.topic, stored)

	resumed := &recorder{}
	c2 := resumed.subscribeAndStart(t, "restarted consumer", f.group, f.topic, consumer.MessageSelector{})
	resumed.waitAll(t, deliveryTimeout, "restarted consumer", f.after)
	waitCaughtUp(t, c2, f.topic)
	requireExactly(t, "restarted consumer", resumed.countByBody(), f.after)
}
