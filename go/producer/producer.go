package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocketmq-rs/rocketmq-rs/go/internal"
	"github.com/rocketmq-rs/rocketmq-rs/go/internal/capi"
	"github.com/rocketmq-rs/rocketmq-rs/go/primitive"
)

// Errors returned by producers.
var (
	ErrNotRunning     = errors.New("producer not started")
	ErrMessageEmpty   = errors.New("message is nil")
	ErrMultipleTopics = errors.New("the topic of the messages in one batch should be the same")
	ErrNoQueue        = errors.New("the queue selector chose no queue")
)

type defaultProducer struct {
	options producerOptions
	native  *capi.Producer

	mu      sync.RWMutex
	running bool
	closed  bool
	async   sync.WaitGroup
	// requests counts Request / RequestAsync calls in the native library: Shutdown fails
	// them (their wait ends) and waits for them before freeing the native producer.
	requests sync.WaitGroup
}

// NewDefaultProducer makes a producer (start it with Start).
func NewDefaultProducer(opts ...Option) (*defaultProducer, error) {
	o := defaultProducerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return newProducer(o, false)
}

func newProducer(o producerOptions, transactional bool) (*defaultProducer, error) {
	cfg := capi.ProducerConfig{
		Group:         o.GroupName,
		NameServers:   o.nameServers(),
		InstanceName:  o.InstanceName,
		Retry:         o.RetryTimes,
		SendTimeout:   o.SendMsgTimeout,
		AccessKey:     o.Credentials.AccessKey,
		SecretKey:     o.Credentials.SecretKey,
		CompressOver:  o.CompressMsgBodyOverHowmuch,
		CompressLevel: o.CompressLevel,
		Transactional: transactional,
	}
	if o.Namespace != "" {
		cfg.Group = o.Namespace + "%" + o.GroupName
	}
	native, err := capi.NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	return &defaultProducer{options: o, native: native}, nil
}

func (p *defaultProducer) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("rocketmq: the producer was shut down; create a new one")
	}
	if p.running {
		return nil
	}
	if err := p.native.Start(); err != nil {
		return err
	}
	p.running = true
	return nil
}

// Shutdown waits for async sends, stops the producer and frees the native one.
func (p *defaultProducer) Shutdown() error {
	err, first := p.stop()
	if first {
		p.requests.Wait()
		p.native.Destroy()
	}
	return err
}

// stop waits for async sends and shuts the native producer down (without freeing it, so
// goroutines still inside a native call on it can return first).
func (p *defaultProducer) stop() (error, bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false
	}
	p.closed = true
	p.running = false
	p.mu.Unlock()
	p.async.Wait()
	return p.native.Shutdown(), true
}

func (p *defaultProducer) checkRunning() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.running {
		return ErrNotRunning
	}
	return nil
}

func (p *defaultProducer) prepare(msgs []*primitive.Message) ([]*primitive.Message, error) {
	if len(msgs) == 0 {
		return nil, ErrMessageEmpty
	}
	out := make([]*primitive.Message, 0, len(msgs))
	for _, m := range msgs {
		if m == nil {
			return nil, ErrMessageEmpty
		}
		if m.Topic != msgs[0].Topic {
			return nil, ErrMultipleTopics
		}
		if p.options.Namespace != "" {
			c := primitive.NewMessage(p.options.wrap(m.Topic), m.Body)
			c.WithProperties(m.GetProperties())
			c.Flag = m.Flag
			c.Queue = m.Queue
			m = c
		}
		out = append(out, m)
	}
	return out, nil
}

func (p *defaultProducer) sendSync(ctx context.Context, msgs []*primitive.Message) (*primitive.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.checkRunning(); err != nil {
		return nil, err
	}
	msgs, err := p.prepare(msgs)
	if err != nil {
		return nil, err
	}
	if len(msgs) > 1 {
		return p.native.SendBatch(msgs)
	}
	msg := msgs[0]
	if p.options.Selector == nil {
		return p.native.SendSync(msg, nil)
	}
	mqs, err := p.native.PublishQueues(msg.Topic)
	if err != nil {
		return nil, err
	}
	if len(mqs) == 0 {
		return nil, fmt.Errorf("rocketmq: topic %q has no writable queue", msg.Topic)
	}
	mq := p.options.Selector.Select(msg, mqs, "")
	if mq == nil {
		return nil, ErrNoQueue
	}
	return p.native.SendSync(msg, mq)
}

// SendSync sends and waits for the broker; several messages are sent as one batch.
func (p *defaultProducer) SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error) {
	return p.sendSync(ctx, msgs)
}

// SendAsync sends in the background and calls f with the outcome on its own goroutine.
func (p *defaultProducer) SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error {
	if err := p.checkRunning(); err != nil {
		return err
	}
	if _, err := p.prepare(msgs); err != nil {
		return err
	}
	p.async.Add(1)
	go func() {
		defer p.async.Done()
		r, err := p.sendSync(ctx, msgs)
		f(ctx, r, err)
	}()
	return nil
}

// SendOneWay sends without waiting for the broker.
func (p *defaultProducer) SendOneWay(ctx context.Context, msgs ...*primitive.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.checkRunning(); err != nil {
		return err
	}
	msgs, err := p.prepare(msgs)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := p.native.SendOneway(m); err != nil {
			return err
		}
	}
	return nil
}

// beginRequest counts a request unless the producer is not running.
func (p *defaultProducer) beginRequest() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.running {
		return ErrNotRunning
	}
	p.requests.Add(1)
	return nil
}

func (p *defaultProducer) prepareRequest(ctx context.Context, msg *primitive.Message) (*primitive.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msgs, err := p.prepare([]*primitive.Message{msg})
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// Request sends msg and waits up to timeout (sending included) for the reply a consumer sends
// back with consumer.CreateReplyMessage. The message gets CORRELATION_ID, REPLY_TO_CLIENT and
// TTL on the way out (the caller's msg is not changed).
func (p *defaultProducer) Request(ctx context.Context, timeout time.Duration, msg *primitive.Message) (*primitive.Message, error) {
	m, err := p.prepareRequest(ctx, msg)
	if err != nil {
		return nil, err
	}
	if err := p.beginRequest(); err != nil {
		return nil, err
	}
	defer p.requests.Done()
	reply, err := p.native.Request(m, timeout)
	if err != nil {
		return nil, err
	}
	return &reply.Message, nil
}

// RequestAsync is Request in the background: callback gets the reply or the error on a
// goroutine of its own. Errors found before sending are returned at once.
func (p *defaultProducer) RequestAsync(ctx context.Context, timeout time.Duration, callback internal.RequestCallback, msg *primitive.Message) error {
	if callback == nil {
		return errors.New("rocketmq: RequestAsync needs a callback")
	}
	m, err := p.prepareRequest(ctx, msg)
	if err != nil {
		return err
	}
	if err := p.beginRequest(); err != nil {
		return err
	}
	go func() {
		defer p.requests.Done()
		reply, err := p.native.Request(m, timeout)
		if err != nil {
			callback(ctx, nil, err)
			return
		}
		callback(ctx, &reply.Message, nil)
	}()
	return nil
}

type transactionProducer struct {
	producer *defaultProducer
	listener primitive.TransactionListener
	stop     chan struct{}
	checkers sync.WaitGroup
}

// checkPollInterval bounds how long a check poller sits in one native call.
const checkPollInterval = 200 * time.Millisecond

// NewTransactionProducer makes a transactional producer; listener runs local transactions and
// answers the broker's checks (on goroutines of this package).
func NewTransactionProducer(listener primitive.TransactionListener, opts ...Option) (*transactionProducer, error) {
	if listener == nil {
		return nil, errors.New("rocketmq: nil transaction listener")
	}
	o := defaultProducerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	p, err := newProducer(o, true)
	if err != nil {
		return nil, err
	}
	return &transactionProducer{producer: p, listener: listener, stop: make(chan struct{})}, nil
}

func (tp *transactionProducer) Start() error {
	if err := tp.producer.Start(); err != nil {
		return err
	}
	tp.checkers.Add(1)
	go tp.answerChecks()
	return nil
}

func (tp *transactionProducer) answerChecks() {
	defer tp.checkers.Done()
	for {
		c, err := tp.producer.native.PollCheck(checkPollInterval)
		if err != nil {
			return // shut down
		}
		if c == nil {
			select {
			case <-tp.stop:
				return
			default:
				continue
			}
		}
		c.Answer(tp.check(c.Message()))
	}
}

func (tp *transactionProducer) check(m *primitive.MessageExt) (state primitive.LocalTransactionState) {
	state = primitive.UnkonwnState
	defer func() { _ = recover() }() // a panicking listener leaves the transaction undecided
	return tp.listener.CheckLocalTransaction(m)
}

func (tp *transactionProducer) Shutdown() error {
	err, first := tp.producer.stop()
	if !first {
		return nil
	}
	close(tp.stop)
	tp.checkers.Wait() // the native shutdown woke them; now nothing is inside a native call
	tp.producer.native.Destroy()
	return err
}

// SendMessageInTransaction sends a half message, runs ExecuteLocalTransaction and ends the
// transaction as it answers.
func (tp *transactionProducer) SendMessageInTransaction(ctx context.Context, msg *primitive.Message) (*primitive.TransactionSendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := tp.producer.checkRunning(); err != nil {
		return nil, err
	}
	msgs, err := tp.producer.prepare([]*primitive.Message{msg})
	if err != nil {
		return nil, err
	}
	return tp.producer.native.SendTransaction(msgs[0], func(m *primitive.Message) primitive.LocalTransactionState {
		return tp.listener.ExecuteLocalTransaction(m)
	})
}
