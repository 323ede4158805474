package interop

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// How late a timed message may reach a consumer after it is due: the
// brokers check due messages about every 100 ms and a waiting pull is
// answered at once, but the machine is small and shared.
const lateBound = 3 * time.Second

// timedSend is a message that must not arrive before dueMs.
type timedSend struct {
	body   string
	dueMs  int64     // earliest arrival, epoch ms
	sentAt time.Time // the send returned
	delay  time.Duration
	res    *primitive.SendResult
}

// checkArrival requires that s arrived once, not before it was due and not
// much later.
func checkArrival(t *testing.T, rec *recorder, s timedSend) *primitive.MessageExt {
	t.Helper()
	ds := rec.of(s.body)
	if len(ds) != 1 {
		t.Errorf("%s delivered %d times, want once", s.body, len(ds))
		if len(ds) == 0 {
			return nil
		}
	}
	d := ds[0]
	if at := d.at.UnixMilli(); at < s.dueMs {
		t.Errorf("%s arrived %d ms before it was due", s.body, s.dueMs-at)
	}
	// Lateness counts from the send's return (plus the delay), so that a
	// slow send does not count against the broker.
	latest := s.sentAt.Add(s.delay)
	if due := time.UnixMilli(s.dueMs); due.After(latest) {
		latest = due
	}
	if late := d.at.Sub(latest); late > scaled(lateBound) {
		t.Errorf("%s arrived %v after it was due, want within %v", s.body, late.Round(time.Millisecond), scaled(lateBound))
	}
	t.Logf("%s: due %s, arrived %s", s.body, time.UnixMilli(s.dueMs).Format("15:04:05.000"), d.at.Format("15:04:05.000"))
	m := d.msg
	if m.Topic != s.res.MessageQueue.Topic {
		t.Errorf("%s arrived on topic %q, want %q", s.body, m.Topic, s.res.MessageQueue.Topic)
	}
	if m.Queue.QueueId != s.res.MessageQueue.QueueId {
		t.Errorf("%s arrived on queue %d, the send chose %d", s.body, m.Queue.QueueId, s.res.MessageQueue.QueueId)
	}
	if m.MsgId != s.res.MsgID {
		t.Errorf("%s has msg id %s, the send said %s", s.body, m.MsgId, s.res.MsgID)
	}
	if m.ReconsumeTimes != 0 {
		t.Errorf("%s: reconsume times %d", s.body, m.ReconsumeTimes)
	}
	return m
}

// A message sent with a delay level reaches consumers no earlier than the
// level's delay after it was stored, and shortly after that; plain messages
// sent meanwhile are not held up.
func TestDelayLevelDeliversAfterItsDelay(t *testing.T) {
	requireSettings(t, featureSettings)
	topic := uniqueName(t, "T")
	p := newProducer(t)
	sendOK(t, p, primitive.NewMessage(topic, []byte("plain-before")))
	rec := &recorder{}
	rec.subscribeAndStart(t, "consumer", uniqueName(t, "G"), topic, consumer.MessageSelector{})
	rec.waitAll(t, deliveryTimeout, "consumer", []string{"plain-before"})

	var timed []timedSend
	for _, level := range []int{3, 1, 2} {
		body := fmt.Sprintf("delay-level-%d", level)
		m := primitive.NewMessage(topic, []byte(body)).WithDelayTimeLevel(level)
		m.WithTag("delayed")
		m.WithKeys([]string{body})
		m.WithProperty("level", strconv.Itoa(level))
		delay := time.Duration(delayOfLevel(level)) * time.Millisecond
		before := time.Now().UnixMilli()
		res := sendOK(t, p, m)
		// The broker stamps the message at or after `before`; the delay
		// counts from that stamp.
		timed = append(timed, timedSend{body, before + delay.Milliseconds(), time.Now(), delay, res})
	}
	sendOK(t, p, primitive.NewMessage(topic, []byte("plain-after")))

	want := []string{"plain-before", "plain-after"}
	for _, s := range timed {
		want = append(want, s.body)
	}
	rec.waitAll(t, deliveryTimeout+scaled(10*time.Second), "consumer", want)
	requireExactly(t, "consumer", rec.countByBody(), want)

	for _, s := range timed {
		m := checkArrival(t, rec, s)
		if m == nil {
			continue
		}
		if m.GetTags() != "delayed" || m.GetKeys() != s.body || m.GetProperty("level") == "" {
			t.Errorf("%s: tag %q, keys %q, property level %q: want them as sent", s.body, m.GetTags(), m.GetKeys(), m.GetProperty("level"))
		}
		// Not checked: Apache RocketMQ 4.9.7 delivers the message with its
		// DELAY property still set (observed), our broker without it.
		t.Logf("%s delivered with %s=%q", s.body, primitive.PropertyDelayTimeLevel, m.GetProperty(primitive.PropertyDelayTimeLevel))
		// Delivery stores the message anew, a delay after its birth.
		if stored := m.StoreTimestamp - m.BornTimestamp; stored < s.delay.Milliseconds() {
			t.Errorf("%s: store timestamp only %d ms after its born timestamp, want >= %d (stored again when due)",
				s.body, stored, s.delay.Milliseconds())
		}
	}
	if plain, late := rec.of("plain-after"), rec.of("delay-level-3"); len(plain) == 1 && len(late) == 1 && !plain[0].at.Before(late[0].at) {
		t.Errorf("a plain message sent after a level-3 message arrived after it")
	}
	var order []string
	for _, d := range rec.all() {
		order = append(order, string(d.msg.Body))
	}
	t.Logf("arrival order: %s", strings.Join(order, ", "))
}

// RocketMQ 5's timer properties deliver a message at an arbitrary time:
// TIMER_DELIVER_MS (epoch ms), TIMER_DELAY_MS and TIMER_DELAY_SEC (from the
// send). A time in the past delivers at once; one beyond timerMaxDelaySec
// (3 days by default) is refused with MESSAGE_ILLEGAL.
func TestTimerMessageDeliversAtItsTime(t *testing.T) {
	if target.kind == "java" {
		t.Skip("Apache RocketMQ 4.9 has no timer messages (they came with RocketMQ 5's timer wheel): " +
			"it ignores TIMER_DELIVER_MS / TIMER_DELAY_MS / TIMER_DELAY_SEC and delivers at once")
	}
	topic := uniqueName(t, "T")
	p := newProducer(t)
	sendOK(t, p, primitive.NewMessage(topic, []byte("plain-before")))
	rec := &recorder{}
	rec.subscribeAndStart(t, "consumer", uniqueName(t, "G"), topic, consumer.MessageSelector{})
	rec.waitAll(t, deliveryTimeout, "consumer", []string{"plain-before"})

	var timed []timedSend
	send := func(body, key, value string, dueMs func(sendStartMs int64) int64) {
		t.Helper()
		m := primitive.NewMessage(topic, []byte(body))
		m.WithProperty(key, value)
		start := time.Now().UnixMilli()
		res := sendOK(t, p, m)
		due := dueMs(start)
		timed = append(timed, timedSend{body, due, time.Now(), time.Duration(due-start) * time.Millisecond, res})
	}
	at := time.Now().Add(2500 * time.Millisecond).UnixMilli()
	send("deliver-ms", "TIMER_DELIVER_MS", strconv.FormatInt(at, 10), func(int64) int64 { return at })
	send("delay-ms", "TIMER_DELAY_MS", "1500", func(s int64) int64 { return s + 1500 })
	send("delay-sec", "TIMER_DELAY_SEC", "2", func(s int64) int64 { return s + 2000 })
	past := time.Now().Add(-time.Minute).UnixMilli()
	send("deliver-ms-past", "TIMER_DELIVER_MS", strconv.FormatInt(past, 10), func(s int64) int64 { return s })

	tooFar := primitive.NewMessage(topic, []byte("too-far"))
	tooFar.WithProperty("TIMER_DELAY_MS", strconv.FormatInt((4*24*time.Hour).Milliseconds(), 10))
	if res, err := p.SendSync(sendCtx(t), tooFar); err == nil {
		t.Errorf("a message due in 4 days was accepted (%v); want MESSAGE_ILLEGAL (timerMaxDelaySec is 3 days)", res)
	} else if !strings.Contains(err.Error(), "CODE: 13") {
		t.Errorf("a message due in 4 days: error %q, want the broker's MESSAGE_ILLEGAL (code 13)", err)
	}

	want := []string{"plain-before"}
	for _, s := range timed {
		want = append(want, s.body)
	}
	rec.waitAll(t, deliveryTimeout, "consumer", want)
	requireExactly(t, "consumer", rec.countByBody(), want)
	for _, s := range timed {
		checkArrival(t, rec, s)
	}
}
