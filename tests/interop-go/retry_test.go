package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// A message whose consumer answers ConsumeRetryLater comes back through
// %RETRY%<group> after delay level 3+n with ReconsumeTimes n+1, restored to
// its own topic; once the consumer's maximum (2) is used up the broker
// moves it to %DLQ%<group> instead, where it can be found by key. A message
// the consumer accepts is delivered once.
func TestRetryLaterRedeliversThenDeadLetters(t *testing.T) {
	requireSettings(t, featureSettings)
	const maxReconsume = 2
	topic := uniqueName(t, "T")
	group := uniqueName(t, "G")
	dlq := "%DLQ%" + group
	key := uniqueName(t, "K")
	p := newProducer(t)

	failing := primitive.NewMessage(topic, []byte("always-fails"))
	failing.WithTag("TagR")
	failing.WithKeys([]string{key})
	failing.WithProperty("origin", "retry-test")
	res := sendOK(t, p, failing)
	sendOK(t, p, primitive.NewMessage(topic, []byte("succeeds")))

	registerGroup(t, group)
	rec := &recorder{result: func(m *primitive.MessageExt) consumer.ConsumeResult {
		if string(m.Body) == "always-fails" {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	}}
	rec.subscribeAndStart(t, "consumer", group, topic, consumer.MessageSelector{},
		consumer.WithMaxReconsumeTimes(maxReconsume))

	// first delivery, then retries after levels 3 and 4
	budget := deliveryTimeout + scaled(time.Duration(delayOfLevel(3)+delayOfLevel(4))*time.Millisecond)
	waitUntil(t, budget, fmt.Sprintf("%d deliveries of the failing message", maxReconsume+1), func() (bool, string) {
		n := len(rec.of("always-fails"))
		return n >= maxReconsume+1, fmt.Sprintf("%d deliveries", n)
	})

	var dead []*primitive.MessageExt
	waitUntil(t, deliveryTimeout+scaled(time.Duration(delayOfLevel(5))*time.Millisecond),
		"the failing message in "+dlq, func() (bool, string) {
			found, err := queryByKey(dlq, key)
			if err != nil {
				return false, err.Error()
			}
			dead = found
			return len(found) > 0, fmt.Sprintf("%d found", len(found))
		})
	dlqEnd, err := queueMaxOffset(dlq, 0)
	if err != nil {
		t.Errorf("max offset of %s: %v", dlq, err)
	} else if dlqEnd != 1 {
		t.Errorf("%s queue 0 ends at offset %d, want 1 (one dead letter)", dlq, dlqEnd)
	}

	deliveries := rec.of("always-fails")
	if len(deliveries) != maxReconsume+1 {
		t.Errorf("failing message delivered %d times, want %d (first + %d retries)", len(deliveries), maxReconsume+1, maxReconsume)
	}
	for i, d := range deliveries {
		m := d.msg
		t.Logf("delivery %d at %s: reconsume times %d, topic %s, queue %d", i, d.at.Format("15:04:05.000"), m.ReconsumeTimes, m.Topic, m.Queue.QueueId)
		if int(m.ReconsumeTimes) != i {
			t.Errorf("delivery %d: reconsume times %d, want %d", i, m.ReconsumeTimes, i)
		}
		if m.Topic != topic {
			t.Errorf("delivery %d: topic %q, want the original %q", i, m.Topic, topic)
		}
		if m.MsgId != res.MsgID {
			t.Errorf("delivery %d: msg id %s, want the original %s", i, m.MsgId, res.MsgID)
		}
		if string(m.Body) != "always-fails" || m.GetTags() != "TagR" || m.GetKeys() != key || m.GetProperty("origin") != "retry-test" {
			t.Errorf("delivery %d: body %q tag %q keys %q origin %q: want them as sent", i, m.Body, m.GetTags(), m.GetKeys(), m.GetProperty("origin"))
		}
		if i == 0 {
			continue
		}
		// Sent back after the callback returned; due a level later.
		level := 3 + i - 1
		want := time.Duration(delayOfLevel(level)) * time.Millisecond
		if gap := d.at.Sub(deliveries[i-1].at); gap < want-5*time.Millisecond {
			t.Errorf("retry %d came %v after the previous delivery, before delay level %d (%v)", i, gap.Round(time.Millisecond), level, want)
		} else if late := gap - want; late > scaled(lateBound) {
			t.Errorf("retry %d came %v after the previous delivery, %v later than delay level %d", i, gap.Round(time.Millisecond), late.Round(time.Millisecond), level)
		}
	}
	if n := len(rec.of("succeeds")); n != 1 {
		t.Errorf("the accepted message was delivered %d times, want once", n)
	}

	if len(dead) != 1 {
		t.Fatalf("%d messages with key %s in %s, want 1", len(dead), key, dlq)
	}
	m := dead[0]
	if m.Topic != dlq || m.Queue.QueueId != 0 || m.QueueOffset != 0 {
		t.Errorf("dead letter at %s/%d offset %d, want %s/0 offset 0", m.Topic, m.Queue.QueueId, m.QueueOffset, dlq)
	}
	if string(m.Body) != "always-fails" || m.GetTags() != "TagR" || m.GetKeys() != key || m.GetProperty("origin") != "retry-test" {
		t.Errorf("dead letter: body %q tag %q keys %q origin %q: want them as sent", m.Body, m.GetTags(), m.GetKeys(), m.GetProperty("origin"))
	}
	if m.ReconsumeTimes != maxReconsume+1 {
		t.Errorf("dead letter: reconsume times %d, want %d", m.ReconsumeTimes, maxReconsume+1)
	}
	if got := m.GetProperty(primitive.PropertyRetryTopic); got != topic {
		t.Errorf("dead letter: %s=%q, want %q", primitive.PropertyRetryTopic, got, topic)
	}
	if got := m.GetProperty("ORIGIN_MESSAGE_ID"); got != res.OffsetMsgID {
		t.Errorf("dead letter: ORIGIN_MESSAGE_ID=%q, want the original's offset msg id %s", got, res.OffsetMsgID)
	}
	if got := m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); got != res.MsgID {
		t.Errorf("dead letter: UNIQ_KEY=%q, want %s", got, res.MsgID)
	}
	if m.BornTimestamp != deliveries[0].msg.BornTimestamp {
		t.Errorf("dead letter: born timestamp %d, the original's %d", m.BornTimestamp, deliveries[0].msg.BornTimestamp)
	}
	if n := len(rec.of("always-fails")); n != maxReconsume+1 {
		t.Errorf("failing message delivered %d times by the end, want %d", n, maxReconsume+1)
	}
}

// registerGroup has a consumer of group start and stop once, on a topic of
// its own, so that the broker knows the group and has made its retry topic
// %RETRY%<group> before the test's consumer starts. The Go client reads the
// routes of its topics (the retry topic included) when it starts, before
// its first heartbeat makes the genuine broker create the retry topic, and
// then only every 30 s: a brand-new group would not pull its retries for up
// to a minute.
func registerGroup(t *testing.T, group string) {
	t.Helper()
	topic := uniqueName(t, "T")
	p := newProducer(t)
	sendOK(t, p, primitive.NewMessage(topic, []byte("register-group")))
	_ = p.Shutdown()
	c := startConsumer(t, group, topic, &inbox{})
	waitRoute(t, "%RETRY%"+group)
	if err := c.Shutdown(); err != nil {
		t.Fatalf("shutdown of the consumer registering %s: %v", group, err)
	}
}
