package interop

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// txListener decides each transaction by the message's "plan" property:
//
//	commit, rollback          decided at once
//	check-commit              UNKNOWN at once, COMMIT when checked
//	check-rollback            UNKNOWN at once, ROLLBACK when checked
//	check-unknown-then-commit UNKNOWN at once and at the first check, COMMIT at the next
type txListener struct {
	mu     sync.Mutex
	checks map[string][]txCheck // body -> checks, oldest first
}

type txCheck struct {
	at  time.Time
	msg *primitive.MessageExt
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch m.GetProperty("plan") {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	default:
		return primitive.UnknowState
	}
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	if l.checks == nil {
		l.checks = map[string][]txCheck{}
	}
	body := string(m.Body)
	l.checks[body] = append(l.checks[body], txCheck{time.Now(), m})
	n := len(l.checks[body])
	l.mu.Unlock()
	switch m.GetProperty("plan") {
	case "check-commit":
		return primitive.CommitMessageState
	case "check-rollback":
		return primitive.RollbackMessageState
	case "check-unknown-then-commit":
		if n >= 2 {
			return primitive.CommitMessageState
		}
	}
	return primitive.UnknowState
}

func (l *txListener) checksOf(body string) []txCheck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]txCheck(nil), l.checks[body]...)
}

// Transactions through NewTransactionProducer: a committed message is
// delivered, a rolled back one never; one left UNKNOWN is checked back by
// the broker (CHECK_TRANSACTION_STATE, once it is transactionTimeOut old)
// and delivered or dropped as the check answers; one still UNKNOWN at its
// first check is checked again. Decided transactions are never checked.
func TestTransactionCommitRollbackAndCheck(t *testing.T) {
	requireSettings(t, featureSettings)
	timeout, _ := strconv.ParseInt(featureSettings["transactionTimeOut"], 10, 64)
	topic := uniqueName(t, "T")
	plain := newProducer(t)
	sendOK(t, plain, primitive.NewMessage(topic, []byte("plain")))
	rec := &recorder{}
	rec.subscribeAndStart(t, "consumer", uniqueName(t, "G"), topic, consumer.MessageSelector{})
	rec.waitAll(t, deliveryTimeout, "consumer", []string{"plain"})

	l := &txListener{}
	tp, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(resolver()),
		producer.WithGroupName(uniqueName(t, "PG")),
		producer.WithInstanceName(uniqueName(t, "p")),
		producer.WithRetry(2))
	if err != nil {
		t.Fatalf("new transaction producer: %v", err)
	}
	if err := tp.Start(); err != nil {
		t.Fatalf("start transaction producer: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown() })

	plans := []string{"commit", "rollback", "check-commit", "check-rollback", "check-unknown-then-commit"}
	wantState := map[string]primitive.LocalTransactionState{
		"commit":   primitive.CommitMessageState,
		"rollback": primitive.RollbackMessageState,
	}
	sentAt := map[string]time.Time{}
	results := map[string]*primitive.SendResult{}
	for _, plan := range plans {
		body := "tx-" + plan
		m := primitive.NewMessage(topic, []byte(body))
		m.WithProperty("plan", plan)
		m.WithTag("TagTx")
		m.WithKeys([]string{body})
		sentAt[body] = time.Now()
		res, err := tp.SendMessageInTransaction(sendCtx(t), m)
		if err != nil {
			t.Fatalf("SendMessageInTransaction %s: %v%s", body, err, brokerNote())
		}
		if res.Status != primitive.SendOK {
			t.Errorf("%s: half message status %v, want SendOK", body, res.Status)
		}
		want, ok := wantState[plan]
		if !ok {
			want = primitive.UnknowState
		}
		if res.State != want {
			t.Errorf("%s: local transaction state %v, want %v", body, res.State, want)
		}
		checkOffsetMsgID(t, res.OffsetMsgID)
		results[body] = res.SendResult
	}

	visible := []string{"plain", "tx-commit", "tx-check-commit", "tx-check-unknown-then-commit"}
	// The last one needs two checks, a check interval or more apart.
	rec.waitAll(t, deliveryTimeout+scaled(10*time.Second), "consumer", visible)
	waitFor(t, deliveryTimeout, "the check of tx-check-rollback", func() bool {
		return len(l.checksOf("tx-check-rollback")) > 0
	})
	requireExactly(t, "consumer", rec.countByBody(), visible)

	for _, body := range []string{"tx-commit", "tx-rollback"} {
		if n := len(l.checksOf(body)); n != 0 {
			t.Errorf("%s was decided at once but checked %d times", body, n)
		}
	}
	for _, body := range []string{"tx-check-commit", "tx-check-rollback", "tx-check-unknown-then-commit"} {
		checks := l.checksOf(body)
		if len(checks) == 0 {
			t.Errorf("%s was never checked", body)
			continue
		}
		t.Logf("%s: checked %d times, first %v after the send", body, len(checks), checks[0].at.Sub(sentAt[body]).Round(time.Millisecond))
		if after := checks[0].at.Sub(sentAt[body]); after < time.Duration(timeout)*time.Millisecond {
			t.Errorf("%s checked %v after the send, before transactionTimeOut (%d ms)", body, after.Round(time.Millisecond), timeout)
		}
		for i, c := range checks {
			m := c.msg
			if m.Topic != topic || string(m.Body) != body || m.GetKeys() != body {
				t.Errorf("%s check %d: topic %q body %q keys %q: want the message as sent", body, i, m.Topic, m.Body, m.GetKeys())
			}
			if got := m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); got != results[body].MsgID {
				t.Errorf("%s check %d: UNIQ_KEY %q, the send said %s", body, i, got, results[body].MsgID)
			}
			if got, want := m.GetProperty("TRANSACTION_CHECK_TIMES"), strconv.Itoa(i+1); got != want {
				t.Errorf("%s check %d: TRANSACTION_CHECK_TIMES=%q, want %s", body, i, got, want)
			}
		}
	}
	if n := len(l.checksOf("tx-check-unknown-then-commit")); n < 2 {
		t.Errorf("tx-check-unknown-then-commit checked %d times, want at least 2", n)
	}
	if n := len(l.checksOf("tx-check-commit")); n != 1 {
		// Not an error: a check pass may ask again before the answer arrives.
		t.Logf("tx-check-commit checked %d times", n)
	}

	for _, body := range []string{"tx-commit", "tx-check-commit", "tx-check-unknown-then-commit"} {
		ds := rec.of(body)
		if len(ds) == 0 {
			continue
		}
		m := ds[0].msg
		res := results[body]
		if m.Topic != topic || m.Queue.QueueId != res.MessageQueue.QueueId {
			t.Errorf("%s delivered at %s/%d, the half message was sent for %s/%d", body, m.Topic, m.Queue.QueueId, topic, res.MessageQueue.QueueId)
		}
		if m.MsgId != res.MsgID {
			t.Errorf("%s delivered with msg id %s, the send said %s", body, m.MsgId, res.MsgID)
		}
		if m.GetTags() != "TagTx" || m.GetKeys() != body || m.GetProperty("plan") == "" {
			t.Errorf("%s delivered with tag %q keys %q plan %q: want them as sent", body, m.GetTags(), m.GetKeys(), m.GetProperty("plan"))
		}
		if checks := l.checksOf(body); len(checks) > 0 {
			last := checks[len(checks)-1]
			if ds[0].at.Before(last.at) {
				t.Errorf("%s delivered at %s, before the check that committed it (%s)", body,
					ds[0].at.Format("15:04:05.000"), last.at.Format("15:04:05.000"))
			}
		}
		t.Logf("%s delivered: %s", body, fmt.Sprintf("TRAN_MSG=%q PGROUP=%q REAL_TOPIC=%q",
			m.GetProperty(primitive.PropertyTransactionPrepared), m.GetProperty("PGROUP"), m.GetProperty("REAL_TOPIC")))
	}
}
