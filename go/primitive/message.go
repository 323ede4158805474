// Package primitive holds the plain values of the RocketMQ API — messages, queues, results,
// name server resolvers, credentials — with the names and methods of rocketmq-client-go v2's
// package of the same name. Nothing here touches the native library.
package primitive

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Property names (Java MessageConst), as rocketmq-client-go v2 spells them.
const (
	PropertyKeys                          = "KEYS"
	PropertyTags                          = "TAGS"
	PropertyWaitStoreMsgOk                = "WAIT"
	PropertyDelayTimeLevel                = "DELAY"
	PropertyRetryTopic                    = "RETRY_TOPIC"
	PropertyTimerDeliverMs                = "TIMER_DELIVER_MS"
	PropertyRealTopic                     = "REAL_TOPIC"
	PropertyRealQueueId                   = "REAL_QID"
	PropertyTransactionPrepared           = "TRAN_MSG"
	PropertyProducerGroup                 = "PGROUP"
	PropertyMinOffset                     = "MIN_OFFSET"
	PropertyMaxOffset                     = "MAX_OFFSET"
	PropertyOriginMessageId               = "ORIGIN_MESSAGE_ID"
	PropertyReconsumeTime                 = "RECONSUME_TIME"
	PropertyMsgRegion                     = "MSG_REGION"
	PropertyTraceSwitch                   = "TRACE_ON"
	PropertyUniqueClientMessageIdKeyIndex = "UNIQ_KEY"
	PropertyMaxReconsumeTimes             = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTime              = "CONSUME_START_TIME"
	PropertyTranPrepareQueueOffset        = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionCheckTimes         = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTimeInSeconds    = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyShardingKey                   = "SHARDING_KEY"
	PropertyTransactionID                 = "__transactionId__"
	// Request-reply.
	PropertyCorrelationID          = "CORRELATION_ID"
	PropertyMessageReplyToClient   = "REPLY_TO_CLIENT"
	PropertyMessageTTL             = "TTL"
	PropertyReplyMessageArriveTime = "ARRIVE_TIME"
	PropertyMsgType                = "MSG_TYPE"
	PropertyCluster                = "CLUSTER"
)

// Message is a message to send.
type Message struct {
	Topic          string
	Body           []byte
	CompressedBody []byte
	Flag           int32
	TransactionId  string
	Batch          bool
	Compress       bool
	// Queue is the queue the manual queue selector sends to.
	Queue *MessageQueue

	properties map[string]string
	mutex      sync.RWMutex
}

// NewMessage makes a message for topic with body.
func NewMessage(topic string, body []byte) *Message {
	return &Message{Topic: topic, Body: body, properties: map[string]string{}}
}

// WithProperties replaces every property.
func (m *Message) WithProperties(p map[string]string) {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	m.properties = make(map[string]string, len(p))
	for k, v := range p {
		m.properties[k] = v
	}
}

// WithProperty sets one property; an empty key or value is ignored.
func (m *Message) WithProperty(key, value string) {
	if key == "" || value == "" {
		return
	}
	m.mutex.Lock()
	defer m.mutex.Unlock()
	if m.properties == nil {
		m.properties = map[string]string{}
	}
	m.properties[key] = value
}

// GetProperty returns a property ("" if absent).
func (m *Message) GetProperty(key string) string {
	m.mutex.RLock()
	defer m.mutex.RUnlock()
	return m.properties[key]
}

// RemoveProperty removes a property and returns its value.
func (m *Message) RemoveProperty(key string) string {
	m.mutex.Lock()
	defer m.mutex.Unlock()
	v := m.properties[key]
	delete(m.properties, key)
	return v
}

// GetProperties returns a copy of the properties.
func (m *Message) GetProperties() map[string]string {
	m.mutex.RLock()
	defer m.mutex.RUnlock()
	out := make(map[string]string, len(m.properties))
	for k, v := range m.properties {
		out[k] = v
	}
	return out
}

// WithTag sets the tag.
func (m *Message) WithTag(tags string) *Message {
	m.WithProperty(PropertyTags, tags)
	return m
}

// WithKeys sets the keys (joined with spaces).
func (m *Message) WithKeys(keys []string) *Message {
	m.WithProperty(PropertyKeys, strings.Join(keys, " "))
	return m
}

// WithDelayTimeLevel asks for delayed delivery: levels 1..18 are 1s 5s 10s 30s 1m 2m 3m 4m 5m
// 6m 7m 8m 9m 10m 20m 30m 1h 2h.
func (m *Message) WithDelayTimeLevel(level int) *Message {
	m.WithProperty(PropertyDelayTimeLevel, strconv.Itoa(level))
	return m
}

// WithDelayTimestamp asks for delivery at t (RocketMQ 5 timer messages; a 4.x broker delivers
// at once).
func (m *Message) WithDelayTimestamp(t time.Time) *Message {
	m.WithProperty(PropertyTimerDeliverMs, strconv.FormatInt(t.UnixMilli(), 10))
	return m
}

// WithShardingKey sets the key the hash queue selector orders by.
func (m *Message) WithShardingKey(key string) *Message {
	m.WithProperty(PropertyShardingKey, key)
	return m
}

func (m *Message) GetTags() string        { return m.GetProperty(PropertyTags) }
func (m *Message) GetKeys() string        { return m.GetProperty(PropertyKeys) }
func (m *Message) GetShardingKey() string { return m.GetProperty(PropertyShardingKey) }

func (m *Message) String() string {
	props := m.GetProperties()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, props[k])
	}
	return fmt.Sprintf("[topic=%s, body=%s, Flag=%d, properties=%s, TransactionId=%s]",
		m.Topic, string(m.Body), m.Flag, strings.TrimSpace(b.String()), m.TransactionId)
}

// MessageExt is a received message.
type MessageExt struct {
	Message
	MsgId                     string
	OffsetMsgId               string
	StoreSize                 int32
	QueueOffset               int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  string
	StoreTimestamp            int64
	StoreHost                 string
	CommitLogOffset           int64
	BodyCRC                   int32
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// Queue-level fields not in v2's struct are reachable through Message.Queue.
}

func (m *MessageExt) GetTags() string { return m.GetProperty(PropertyTags) }

// GetRegionID returns the broker region the message was stored in.
func (m *MessageExt) GetRegionID() string { return m.GetProperty(PropertyMsgRegion) }

// IsTraceOn tells whether the message carries the trace switch.
func (m *MessageExt) IsTraceOn() string { return m.GetProperty(PropertyTraceSwitch) }

func (m *MessageExt) String() string {
	return fmt.Sprintf("[Message=%s, MsgId=%s, OffsetMsgId=%s, QueueId=%d, StoreSize=%d, QueueOffset=%d, "+
		"SysFlag=%d, BornTimestamp=%d, BornHost=%s, StoreTimestamp=%d, StoreHost=%s, CommitLogOffset=%d, "+
		"BodyCRC=%d, ReconsumeTimes=%d, PreparedTransactionOffset=%d]",
		m.Message.String(), m.MsgId, m.OffsetMsgId, queueID(m.Queue), m.StoreSize, m.QueueOffset,
		m.SysFlag, m.BornTimestamp, m.BornHost, m.StoreTimestamp, m.StoreHost, m.CommitLogOffset,
		m.BodyCRC, m.ReconsumeTimes, m.PreparedTransactionOffset)
}

func queueID(q *MessageQueue) int {
	if q == nil {
		return -1
	}
	return q.QueueId
}

// MessageQueue is one queue of a topic on one broker.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueId    int    `json:"queueId"`
}

func (mq *MessageQueue) String() string {
	return fmt.Sprintf("MessageQueue [topic=%s, brokerName=%s, queueId=%d]", mq.Topic, mq.BrokerName, mq.QueueId)
}

// HashCode is Java's MessageQueue.hashCode.
func (mq *MessageQueue) HashCode() int {
	result := 1
	result = 31*result + javaHash(mq.BrokerName)
	result = 31*result + mq.QueueId
	result = 31*result + javaHash(mq.Topic)
	return result
}

func javaHash(s string) int {
	var h int32
	for _, c := range s {
		h = 31*h + int32(c)
	}
	return int(h)
}
