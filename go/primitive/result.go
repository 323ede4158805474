package primitive

import (
	"context"
	"fmt"
)

// SendStatus of a message.
type SendStatus int

const (
	SendOK SendStatus = iota
	SendFlushDiskTimeout
	SendFlushSlaveTimeout
	SendSlaveNotAvailable
	SendUnknownError
)

// SendResult is the broker's answer to a send.
type SendResult struct {
	Status        SendStatus
	MsgID         string
	MessageQueue  *MessageQueue
	QueueOffset   int64
	TransactionID string
	OffsetMsgID   string
	RegionID      string
	TraceOn       bool
}

// NewSendResult makes an empty result.
func NewSendResult() *SendResult { return &SendResult{Status: SendUnknownError} }

func (result *SendResult) String() string {
	return fmt.Sprintf("SendResult [sendStatus=%d, msgIds=%s, offsetMsgId=%s, queueOffset=%d, messageQueue=%s]",
		result.Status, result.MsgID, result.OffsetMsgID, result.QueueOffset, result.MessageQueue.String())
}

// TransactionSendResult is a send result plus what the local transaction decided.
type TransactionSendResult struct {
	*SendResult
	State LocalTransactionState
}

// LocalTransactionState is the outcome of a local transaction.
type LocalTransactionState int

const (
	CommitMessageState LocalTransactionState = iota + 1
	RollbackMessageState
	UnkonwnState // sic: rocketmq-client-go v2's spelling
)

// TransactionListener runs local transactions and answers the broker's checks.
type TransactionListener interface {
	// ExecuteLocalTransaction runs after the half message was stored.
	ExecuteLocalTransaction(*Message) LocalTransactionState
	// CheckLocalTransaction answers the broker asking about an undecided transaction.
	CheckLocalTransaction(*MessageExt) LocalTransactionState
}

// PullStatus of a pull.
type PullStatus int

const (
	PullFound PullStatus = iota
	PullNoNewMsg
	PullNoMsgMatched
	PullOffsetIllegal
	PullBrokerTimeout
)

// PullResult is the answer of a pull.
type PullResult struct {
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	Status               PullStatus
	SuggestWhichBrokerId int64

	messageExts []*MessageExt
	body        []byte
}

func (result *PullResult) GetMessageExts() []*MessageExt  { return result.messageExts }
func (result *PullResult) SetMessageExts(m []*MessageExt) { result.messageExts = m }
func (result *PullResult) GetBody() []byte                { return result.body }
func (result *PullResult) SetBody(data []byte)            { result.body = data }
func (result *PullResult) GetMessages() []*Message {
	out := make([]*Message, 0, len(result.messageExts))
	for _, m := range result.messageExts {
		out = append(out, &m.Message)
	}
	return out
}
func (result *PullResult) String() string {
	return fmt.Sprintf("PullResult [status=%d, nextBeginOffset=%d, minOffset=%d, maxOffset=%d, msgs=%d]",
		result.Status, result.NextBeginOffset, result.MinOffset, result.MaxOffset, len(result.messageExts))
}

// ConsumeConcurrentlyContext is what a concurrent consumer's callback finds in its context.
type ConsumeConcurrentlyContext struct {
	MQ                        MessageQueue
	DelayLevelWhenNextConsume int
	AckIndex                  int32
}

// ConsumeOrderlyContext is what an orderly consumer's callback finds in its context.
type ConsumeOrderlyContext struct {
	MQ                            MessageQueue
	AutoCommit                    bool
	SuspendCurrentQueueTimeMillis int
}

type ctxKey int

const (
	concurrentlyCtxKey ctxKey = iota
	orderlyCtxKey
)

func NewConsumeConcurrentlyContext() *ConsumeConcurrentlyContext {
	return &ConsumeConcurrentlyContext{AckIndex: -1}
}
func NewConsumeOrderlyContext() *ConsumeOrderlyContext {
	return &ConsumeOrderlyContext{AutoCommit: true, SuspendCurrentQueueTimeMillis: -1}
}
func WithConcurrentlyCtx(ctx context.Context, c *ConsumeConcurrentlyContext) context.Context {
	return context.WithValue(ctx, concurrentlyCtxKey, c)
}
func GetConcurrentlyCtx(ctx context.Context) (*ConsumeConcurrentlyContext, bool) {
	c, ok := ctx.Value(concurrentlyCtxKey).(*ConsumeConcurrentlyContext)
	return c, ok
}
func WithOrderlyCtx(ctx context.Context, c *ConsumeOrderlyContext) context.Context {
	return context.WithValue(ctx, orderlyCtxKey, c)
}
func GetOrderlyCtx(ctx context.Context) (*ConsumeOrderlyContext, bool) {
	c, ok := ctx.Value(orderlyCtxKey).(*ConsumeOrderlyContext)
	return c, ok
}
