package interop

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// ---------------------------------------------------------------- time

// scaled stretches a timeout by INTEROP_TIMEOUT_SCALE (default 1) for slow
// or heavily loaded machines.
func scaled(d time.Duration) time.Duration {
	if v := os.Getenv("INTEROP_TIMEOUT_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return time.Duration(float64(d) * f)
		}
	}
	return d
}

// waitFor polls cond until it holds or the (scaled) timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, timeout, what, func() (bool, string) { return cond(), "" })
}

// waitUntil is waitFor for conditions that can say what they last saw.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	timeout = scaled(timeout)
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if err := target.died(); err != nil {
			t.Fatalf("while waiting for %s: %v", what, err)
		}
		if time.Now().After(deadline) {
			if state != "" {
				state = " (last: " + state + ")"
			}
			t.Fatalf("timed out after %v waiting for %s%s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Generous bounds: the machine has two cores that the broker, its JVMs and
// the clients share.
const (
	deliveryTimeout = 30 * time.Second
	sendTimeout     = 10 * time.Second
)

// ---------------------------------------------------------------- names

var nameSeq atomic.Int64

var unsafeNameChars = regexp.MustCompile(`[^a-zA-Z0-9_-]`)

// uniqueName gives a topic, group or instance name that no other test (nor
// an earlier run against a long-lived broker) uses. Topic names allow only
// [%|a-zA-Z0-9_-] and at most 127 characters.
func uniqueName(t *testing.T, kind string) string {
	base := unsafeNameChars.ReplaceAllString(t.Name(), "_")
	if len(base) > 48 {
		base = base[:48]
	}
	return fmt.Sprintf("%s_%s_%d_%d_%d", kind, base, time.Now().UnixMilli()%100000000, os.Getpid(), nameSeq.Add(1))
}

// ---------------------------------------------------------------- clients

func resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{namesrv()})
}

// requireBroker fails the test if the broker under test is not running (an
// earlier restart may have failed).
func requireBroker(t *testing.T) {
	t.Helper()
	if err := target.died(); err != nil {
		// An earlier test took it down; start it again on the same store
		// so that the remaining tests still say something.
		t.Logf("%v; starting it again", err)
		target.forgetDead()
	}
	if target.current() == nil {
		if err := target.start(); err != nil {
			t.Fatalf("broker under test is not running and cannot be started: %v", err)
		}
	}
}

// brokerNote explains a client error by the broker's death, if it died.
func brokerNote() string {
	if err := target.died(); err != nil {
		return "; " + err.Error()
	}
	return ""
}

// newProducer starts a producer with its own group and instance name. Every
// client needs its own instance name: the Go client shares one connection
// manager per client id (ip@instance) and refuses a second consumer of the
// same group under the same id.
func newProducer(t *testing.T, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	requireBroker(t)
	all := append([]producer.Option{
		producer.WithNsResolver(resolver()),
		producer.WithGroupName(uniqueName(t, "PG")),
		producer.WithInstanceName(uniqueName(t, "p")),
		producer.WithRetry(2),
	}, opts...)
	p, err := rocketmq.NewProducer(all...)
	if err != nil {
		t.Fatalf("new producer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(sendTimeout))
	t.Cleanup(cancel)
	return ctx
}

// sendOK sends synchronously (one message, or a batch) and requires SEND_OK.
func sendOK(t *testing.T, p rocketmq.Producer, msgs ...*primitive.Message) *primitive.SendResult {
	t.Helper()
	res, err := p.SendSync(sendCtx(t), msgs...)
	if err != nil {
		t.Fatalf("SendSync to %s: %v%s", msgs[0].Topic, err, brokerNote())
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("SendSync to %s: status %v, want SendOK (%s)", msgs[0].Topic, res.Status, res)
	}
	return res
}

// waitRoute waits until the name server returns a route for topic. After a
// successful send that auto-created the topic this is normally immediate
// (the genuine broker registers the new topic before answering the send).
func waitRoute(t *testing.T, topic string) {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(resolver()))
	if err != nil {
		t.Fatalf("new admin: %v", err)
	}
	defer adm.Close()
	waitFor(t, 10*time.Second, "a route for topic "+topic, func() bool {
		mqs, err := adm.FetchPublishMessageQueues(context.Background(), topic)
		return err == nil && len(mqs) > 0
	})
}

// ---------------------------------------------------------------- consumers

// inbox records every delivery a push consumer callback sees.
type inbox struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt
}

func (in *inbox) consume(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	in.mu.Lock()
	in.msgs = append(in.msgs, msgs...)
	in.mu.Unlock()
	return consumer.ConsumeSuccess, nil
}

func (in *inbox) all() []*primitive.MessageExt {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*primitive.MessageExt(nil), in.msgs...)
}

// countByBody maps each distinct body to how often it was delivered.
func (in *inbox) countByBody() map[string]int {
	counts := map[string]int{}
	for _, m := range in.all() {
		counts[string(m.Body)]++
	}
	return counts
}

// waitBodies waits until every body in want has arrived, then requires that
// each arrived exactly once and that nothing else arrived.
func (in *inbox) waitBodies(t *testing.T, who string, want []string) {
	t.Helper()
	waitUntil(t, deliveryTimeout, fmt.Sprintf("%s to receive %d messages", who, len(want)), func() (bool, string) {
		counts := in.countByBody()
		var missing []string
		for _, b := range want {
			if counts[b] == 0 {
				missing = append(missing, b)
			}
		}
		if len(missing) == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%d deliveries, %d of %d still missing, e.g. %q", len(in.all()), len(missing), len(want), short(missing[0]))
	})
	requireExactly(t, who, in.countByBody(), want)
}

func requireExactly(t *testing.T, who string, got map[string]int, want []string) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, b := range want {
		wantSet[b] = true
	}
	for body, n := range got {
		switch {
		case !wantSet[body]:
			t.Errorf("%s received an unexpected message %q (%d times)", who, short(body), n)
		case n != 1:
			t.Errorf("%s received %q %d times, want once", who, short(body), n)
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// startConsumer subscribes a clustering push consumer (unless opts say
// otherwise) to every message of topic and starts it. It reads from the
// first offset when its group has no committed offset, so messages sent
// before it started are included.
func startConsumer(t *testing.T, group, topic string, in *inbox, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	requireBroker(t)
	waitRoute(t, topic)
	c := newConsumer(t, group, opts...)
	if err := c.Subscribe(topic, consumer.MessageSelector{}, in.consume); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("start consumer of %s in %s: %v%s", topic, group, err, brokerNote())
	}
	return c
}

func newConsumer(t *testing.T, group string, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	all := append([]consumer.Option{
		consumer.WithNsResolver(resolver()),
		consumer.WithGroupName(group),
		consumer.WithInstance(uniqueName(t, "c")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	c, err := rocketmq.NewPushConsumer(all...)
	if err != nil {
		t.Fatalf("new push consumer: %v", err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// waitCaughtUp waits until the consumer's in-memory offsets of topic have
// reached the end of every queue it pulled, i.e. every delivered message is
// acknowledged and the offsets a Shutdown persists cover all of them.
func waitCaughtUp(t *testing.T, c rocketmq.PushConsumer, topic string) {
	t.Helper()
	waitFor(t, deliveryTimeout, "consumer offsets of "+topic+" to reach the queue ends", func() bool {
		diff, ok := c.GetOffsetDiffMap()[topic]
		return ok && diff == 0
	})
}

// ---------------------------------------------------------------- checks

// checkSendResult checks the fields every successful single send returns.
func checkSendResult(t *testing.T, res *primitive.SendResult, topic string) {
	t.Helper()
	if res.Status != primitive.SendOK {
		t.Errorf("status %v, want SendOK", res.Status)
	}
	if !clientID.MatchString(res.MsgID) {
		t.Errorf("MsgID %q: want the client's 32-hex-digit id (UNIQ_KEY)", res.MsgID)
	}
	checkOffsetMsgID(t, res.OffsetMsgID)
	if res.MessageQueue == nil || res.MessageQueue.Topic != topic {
		t.Fatalf("message queue %v, want topic %s", res.MessageQueue, topic)
	}
	if res.MessageQueue.BrokerName != "broker-a" {
		t.Errorf("broker name %q, want broker-a", res.MessageQueue.BrokerName)
	}
	// auto-created topics get min(4 asked by the client, 8 on the broker)
	if q := res.MessageQueue.QueueId; q < 0 || q >= 4 {
		t.Errorf("queue id %d, want 0..3", q)
	}
	if res.QueueOffset < 0 {
		t.Errorf("queue offset %d, want >= 0", res.QueueOffset)
	}
}

// The broker renders offset msg ids in upper-case hex (IPv4 store host: 32
// digits); the Go client writes the UNIQ_KEY partly in lower case.
var (
	offsetID = regexp.MustCompile(`^[0-9A-F]{32}$`)
	clientID = regexp.MustCompile(`^[0-9A-Fa-f]{32}$`)
)

// checkOffsetMsgID decodes a broker message id (store host + commitlog
// offset) and checks that it names the broker under test.
func checkOffsetMsgID(t *testing.T, id string) *primitive.MessageID {
	t.Helper()
	if !offsetID.MatchString(id) {
		t.Errorf("offset msg id %q: want 32 upper-case hex digits", id)
		return nil
	}
	mid, err := primitive.UnmarshalMsgID([]byte(id))
	if err != nil {
		t.Errorf("offset msg id %q: %v", id, err)
		return nil
	}
	if got, want := fmt.Sprintf("%s:%d", mid.Addr, mid.Port), brokerAddr(); got != want {
		t.Errorf("offset msg id %q names store host %s, want the broker %s", id, got, want)
	}
	if mid.Offset < 0 {
		t.Errorf("offset msg id %q: commitlog offset %d", id, mid.Offset)
	}
	return mid
}

// checkQueueOffsetsDense requires that, per queue, the given offsets are
// exactly first, first+1, ... (no gaps, no repeats), as on a fresh topic.
func checkQueueOffsetsDense(t *testing.T, offsetsByQueue map[int][]int64, first map[int]int64) {
	t.Helper()
	for q, offs := range offsetsByQueue {
		sorted := append([]int64(nil), offs...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		for i, o := range sorted {
			if want := first[q] + int64(i); o != want {
				t.Errorf("queue %d offsets %v: want %d..%d", q, sorted, first[q], first[q]+int64(len(sorted))-1)
				break
			}
		}
	}
}

func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func messages(topic string, bodies []string) []*primitive.Message {
	out := make([]*primitive.Message, len(bodies))
	for i, b := range bodies {
		out[i] = primitive.NewMessage(topic, []byte(b))
	}
	return out
}

// sentLog remembers where each sent message landed.
type sentLog struct {
	pos map[string]queuePos // body -> position
}

type queuePos struct {
	queue  int
	offset int64
}

// send sends each body synchronously to topic and records its position.
func (l *sentLog) send(t *testing.T, p rocketmq.Producer, topic string, bodies []string) {
	t.Helper()
	if l.pos == nil {
		l.pos = map[string]queuePos{}
	}
	for _, m := range messages(topic, bodies) {
		res := sendOK(t, p, m)
		l.pos[string(m.Body)] = queuePos{res.MessageQueue.QueueId, res.QueueOffset}
	}
}

// ends maps each queue to the offset after the last message sent to it.
func (l *sentLog) ends() map[int]int64 {
	ends := map[int]int64{}
	for _, p := range l.pos {
		if p.offset+1 > ends[p.queue] {
			ends[p.queue] = p.offset + 1
		}
	}
	return ends
}

// from lists, in the given order, the bodies at or after the offsets.
func (l *sentLog) from(offsets map[int]int64, bodies []string) []string {
	var out []string
	for _, b := range bodies {
		if p := l.pos[b]; p.offset >= offsets[p.queue] {
			out = append(out, b)
		}
	}
	return out
}
