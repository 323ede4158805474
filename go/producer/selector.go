package producer

import (
	"hash/fnv"
	"math/rand"
	"sync"

	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// QueueSelector picks the queue of a message among the topic's writable queues.
type QueueSelector interface {
	Select(msg *primitive.Message, mqs []*primitive.MessageQueue, lastBrokerName string) *primitive.MessageQueue
}

type manualQueueSelector struct{}

// NewManualQueueSelector sends to msg.Queue.
func NewManualQueueSelector() QueueSelector { return manualQueueSelector{} }

func (manualQueueSelector) Select(msg *primitive.Message, _ []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	return msg.Queue
}

type randomQueueSelector struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

// NewRandomQueueSelector picks a uniformly random queue.
func NewRandomQueueSelector() QueueSelector {
	return &randomQueueSelector{rnd: rand.New(rand.NewSource(rand.Int63()))}
}

func (r *randomQueueSelector) Select(_ *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	r.mu.Lock()
	defer r.mu.Unlock()
	return mqs[r.rnd.Intn(len(mqs))]
}

type roundRobinQueueSelector struct {
	mu      sync.Mutex
	indexer map[string]*uint32
}

// NewRoundRobinQueueSelector cycles through the queues, one counter per topic.
func NewRoundRobinQueueSelector() QueueSelector {
	return &roundRobinQueueSelector{indexer: map[string]*uint32{}}
}

func (r *roundRobinQueueSelector) Select(msg *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.indexer[msg.Topic]
	if !ok {
		var v uint32
		i = &v
		r.indexer[msg.Topic] = i
	}
	*i++
	return mqs[int(*i)%len(mqs)]
}

type hashQueueSelector struct {
	random QueueSelector
}

// NewHashQueueSelector keeps messages with the same sharding key on one queue (FNV-1a of the
// key; random without a key).
func NewHashQueueSelector() QueueSelector {
	return &hashQueueSelector{random: NewRandomQueueSelector()}
}

func (h *hashQueueSelector) Select(msg *primitive.Message, mqs []*primitive.MessageQueue, last string) *primitive.MessageQueue {
	key := msg.GetShardingKey()
	if key == "" {
		return h.random.Select(msg, mqs, last)
	}
	hasher := fnv.New32a()
	_, _ = hasher.Write([]byte(key))
	return mqs[int(hasher.Sum32())%len(mqs)]
}
