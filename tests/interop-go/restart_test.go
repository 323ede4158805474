package interop

import (
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// restartBroker restarts the broker under test on the same store, gracefully
// (SIGTERM) or as a crash (SIGKILL). Clients made before it point at the old
// name server address; make new ones.
func restartBroker(t *testing.T, graceful bool) {
	t.Helper()
	began := time.Now()
	if err := target.restart(graceful); err != nil {
		t.Fatalf("restart (graceful=%v): %v", graceful, err)
	}
	t.Logf("restarted (graceful=%v) in %v: namesrv=%s broker=%s", graceful,
		time.Since(began).Round(time.Millisecond), namesrv(), brokerAddr())
}

// After a graceful restart the topic, its messages, the queue offsets and
// the group's committed consumer offsets are all still there.
func TestRestartKeepsMessagesAndOffsets(t *testing.T) {
	topic := uniqueName(t, "T")
	group := uniqueName(t, "G")
	t.Logf("topic %s, group %s", topic, group)
	p := newProducer(t)
	var sent sentLog
	consumed := bodies("consumed", 8)
	sent.send(t, p, topic, consumed)
	in := &inbox{}
	c := startConsumer(t, group, topic, in)
	in.waitBodies(t, "consumer before the restart", consumed)
	waitCaughtUp(t, c, topic)
	if err := c.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stored := committedOnShutdown(t, group, topic, sent.ends())
	pending := bodies("pending", 4)
	sent.send(t, p, topic, pending)
	_ = p.Shutdown()

	restartBroker(t, true)
	waitCommitted(t, group, topic, stored) // persisted across the restart

	// Appends continue each queue where it ended.
	ends := sent.ends()
	p2 := newProducer(t)
	after := bodies("after", 4)
	for _, m := range messages(topic, after) {
		res := sendOK(t, p2, m)
		q := res.MessageQueue.QueueId
		if res.QueueOffset != ends[q] {
			t.Errorf("send after the restart to queue %d got offset %d, want %d (the messages already there)",
				q, res.QueueOffset, ends[q])
		}
		ends[q]++
	}

	resumed := &inbox{}
	startConsumer(t, group, topic, resumed)
	resumed.waitBodies(t, "same group after the restart",
		append(append(sent.from(stored, consumed), pending...), after...))

	fresh := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, fresh)
	fresh.waitBodies(t, "new group after the restart",
		append(append(append([]string(nil), consumed...), pending...), after...))
}

// After a crash (SIGKILL, no shutdown hook) every message whose send was
// acknowledged can still be consumed, exactly once by a new group.
func TestCrashKeepsAcknowledgedMessages(t *testing.T) {
	topic := uniqueName(t, "T")
	p := newProducer(t)
	want := bodies("acked", 12)
	for _, m := range messages(topic, want) {
		sendOK(t, p, m)
	}
	_ = p.Shutdown()

	restartBroker(t, false)

	in := &inbox{}
	startConsumer(t, uniqueName(t, "G"), topic, in)
	in.waitBodies(t, "new group after the crash", want)

	// and the broker takes new messages on the recovered store
	p2 := newProducer(t)
	sendOK(t, p2, primitive.NewMessage(topic, []byte("after-crash")))
	in.waitBodies(t, "the same consumer", append(append([]string(nil), want...), "after-crash"))
}

// A broker stopped with SIGTERM right after it printed READY still shuts
// down gracefully (exit status 0): READY promises that it is fully up.
func TestStopRightAfterReady(t *testing.T) {
	rounds := 10
	if target.kind == "java" {
		rounds = 1 // each start of the two JVMs takes many seconds
	}
	dir := t.TempDir()
	b, err := newBrokerUnderTest(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.logFile.Close()
	for i := 0; i < rounds; i++ {
		if err := b.start(); err != nil {
			t.Fatalf("round %d: start: %v", i, err)
		}
		if err := b.stop(true); err != nil {
			dumpTail(b.logFile.Name(), 20)
			t.Fatalf("round %d: SIGTERM right after READY: %v", i, err)
		}
	}
}
