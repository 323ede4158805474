//! The producer: validates and prepares messages, picks a queue, sends to the queue's master
//! and retries elsewhere on failure within the send timeout.

mod request;
mod selector;
mod transaction;

pub use selector::{MessageQueueSelector, RoundRobin, SelectByHash, SelectByRandom};
pub(crate) use transaction::panic_text as transaction_panic_text;
pub use transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer, TransactionSendResult,
};

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::{
    check_group, check_topic, is_retry_topic, ClientConfig, FORBIDDEN_SEND_TOPICS,
};
use super::error::{ClientError, Result};
use super::instance::{ClientInstance, AUTO_CREATE_TOPIC};
use super::message::{compress, Message, SendResult, SendStatus};
use crate::protocol::bodies::MessageQueue;
use crate::protocol::message::{encode_batch, encode_properties, property, sys_flag, BatchItem};
use crate::protocol::{ids::UniqueIdGenerator, request_code, response_code, RemotingCommand};

/// Queues of a topic the broker auto-creates on first send (Java `defaultTopicQueueNums`).
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;
/// Group of the producer a consumer uses to re-send failed messages itself.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// Producer settings. Defaults are Java's.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub client: ClientConfig,
    pub group: String,
    /// Budget of one send including its retries.
    pub send_timeout: Duration,
    /// Extra attempts of a sync send on another queue/broker (`retryTimesWhenSendFailed`).
    pub retry_times_when_send_failed: u32,
    /// Extra attempts of an async send (`retryTimesWhenSendAsyncFailed`).
    pub retry_times_when_send_async_failed: u32,
    /// Also retry when the broker stored the message but answered a non-OK status.
    pub retry_another_broker_when_not_store_ok: bool,
    /// Bodies of at least this many bytes are zlib-compressed (not batches).
    pub compress_over_bytes: usize,
    /// zlib level.
    pub compress_level: u32,
    /// Largest body (or batch body) accepted.
    pub max_message_bytes: usize,
    /// Queues per broker for topics auto-created by sending.
    pub default_topic_queue_nums: i32,
    /// After a connection failure, prefer other brokers' queues for this long (zero: never).
    /// Java's equivalent (`sendLatencyFaultEnable`) is off by default; here it only changes
    /// which queue is tried first, so it is on: a dead broker then costs no failed connect
    /// per send.
    pub broker_isolation: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            group: "DEFAULT_PRODUCER".into(),
            send_timeout: Duration::from_secs(3),
            retry_times_when_send_failed: 2,
            retry_times_when_send_async_failed: 2,
            retry_another_broker_when_not_store_ok: false,
            compress_over_bytes: crate::protocol::limits::COMPRESS_BODY_OVER_BYTES,
            compress_level: 5,
            max_message_bytes: crate::protocol::limits::DEFAULT_MAX_MESSAGE_BYTES,
            default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
            broker_isolation: Duration::from_secs(30),
        }
    }
}

impl ProducerConfig {
    pub fn new(namesrv_addr: &str, group: &str) -> Self {
        ProducerConfig {
            client: ClientConfig::new(namesrv_addr),
            group: group.into(),
            ..Default::default()
        }
    }
}

const CREATED: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

/// A message ready for the wire: validated, namespaced, with its UNIQ_KEY and maybe compressed.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub topic: String,
    pub body: Bytes,
    pub flag: i32,
    pub sys_flag: i32,
    pub properties: String,
    pub uniq_id: String,
    pub reconsume_times: Option<i32>,
    pub max_reconsume_times: Option<i32>,
    pub batch: bool,
    /// A reply of request-reply (`MSG_TYPE=reply`): sent as SEND_REPLY_MESSAGE_V2.
    pub reply: bool,
}

pub(crate) struct ProducerCore {
    pub instance: ClientInstance,
    pub config: ProducerConfig,
    /// The group as sent (namespaced).
    pub group: String,
    round_robin: RoundRobin,
    /// Broker name → until when to prefer other brokers (after a connection failure).
    isolated: Mutex<HashMap<String, Instant>>,
    state: AtomicU8,
}

/// A producer. Cheap to clone; all clones share one client.
#[derive(Clone)]
pub struct Producer {
    pub(crate) core: Arc<ProducerCore>,
}

impl Producer {
    pub fn new(config: ProducerConfig) -> Result<Producer> {
        check_group(&config.group)?;
        let instance = ClientInstance::new(config.client.clone())?;
        Ok(Producer {
            core: Arc::new(ProducerCore::new(instance, config)),
        })
    }

    /// Registers the group and starts heartbeats and route refresh.
    pub async fn start(&self) -> Result<()> {
        self.core.start().await
    }

    /// Unregisters from the brokers and closes connections. Further sends fail.
    pub async fn shutdown(&self) {
        self.core.state.store(STOPPED, Ordering::SeqCst);
        self.core.instance.shutdown().await;
    }

    pub fn client_id(&self) -> &str {
        self.core.instance.client_id()
    }

    /// Sends and waits for the broker, retrying on other queues/brokers (see `ProducerConfig`).
    pub async fn send(&self, msg: Message) -> Result<SendResult> {
        self.core.check_running()?;
        let out = self.core.prepare(msg)?;
        self.core
            .send_with_retries(&out, self.core.config.retry_times_when_send_failed)
            .await
    }

    /// Sends in the background; `callback` gets the result (on a runtime thread: do not block in
    /// it for long).
    pub fn send_with_callback<F>(&self, msg: Message, callback: F) -> Result<()>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        tokio::spawn(self.background_send(msg, callback)?);
        Ok(())
    }

    /// `send_with_callback`, started on the calling thread: the request is written before this
    /// returns (unless the send must first wait, for a route or a connection, say), and only
    /// the wait for the answer is left to the runtime. Saves the hand-off to a runtime thread
    /// before the request leaves — the whole latency of a send when one is in flight. The
    /// callback runs on a runtime thread, or on this one if the send ends at once (an error
    /// found before anything is sent): give it nothing that could deadlock with the caller.
    /// Call with the client runtime entered (`Handle::enter`).
    pub fn send_with_callback_started_here<F>(&self, msg: Message, callback: F) -> Result<()>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        let mut send = Box::pin(self.background_send(msg, callback)?);
        // Whatever the first poll waits on is polled again by the spawned task (tokio polls a
        // new task at once), which registers its own waker then: the no-op one here loses no
        // wake-up.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if send.as_mut().poll(&mut cx).is_pending() {
            tokio::spawn(send);
        }
        Ok(())
    }

    /// A whole send with retries, ending with `callback`; checks that fail at once are the
    /// `Err`.
    fn background_send<F>(
        &self,
        msg: Message,
        callback: F,
    ) -> Result<impl Future<Output = ()> + Send + 'static>
    where
        F: FnOnce(Result<SendResult>) + Send + 'static,
    {
        self.core.check_running()?;
        let out = self.core.prepare(msg)?;
        let core = self.core.clone();
        Ok(async move {
            let r = core
                .send_with_retries(&out, core.config.retry_times_when_send_async_failed)
                .await;
            callback(r);
        })
    }

    /// Sends without waiting for any answer (no retries, no result).
    pub async fn send_oneway(&self, msg: Message) -> Result<()> {
        self.core.check_running()?;
        let out = self.core.prepare(msg)?;
        let route = self.core.instance.route(&out.topic, true).await?;
        let mq = self
            .core
            .round_robin
            .select_avoiding(&route.publish_queues, |q| {
                self.core.is_isolated(&q.broker_name)
            })
            .ok_or_else(|| no_queue(&out.topic))?
            .clone();
        self.core.send_oneway_to(&out, &mq).await
    }

    /// Sends to a queue chosen by `selector` from the topic's writable queues (one attempt, as
    /// Java does: another queue would break the ordering the selector stands for).
    pub async fn send_with_selector(
        &self,
        msg: Message,
        selector: &dyn MessageQueueSelector,
        arg: &str,
    ) -> Result<SendResult> {
        self.core.check_running()?;
        let out = self.core.prepare(msg.clone())?;
        let route = self.core.instance.route(&out.topic, true).await?;
        if route.publish_queues.is_empty() {
            return Err(no_queue(&out.topic));
        }
        // Selectors see queues with the topic as the application named it.
        let visible: Vec<MessageQueue> = route
            .publish_queues
            .iter()
            .map(|q| self.core.visible_queue(q))
            .collect();
        let i = selector.select(&visible, &msg, arg);
        let mq = route.publish_queues.get(i).ok_or_else(|| {
            ClientError::illegal(format!(
                "the selector chose queue index {i} but the topic has {} queues",
                visible.len()
            ))
        })?;
        self.core
            .send_once(&out, mq, self.core.config.send_timeout)
            .await
    }

    /// Ordered send: every message with the same `sharding_key` goes to the same queue
    /// (Java's hash selector, so mixed Java/Rust producers agree).
    pub async fn send_orderly(&self, mut msg: Message, sharding_key: &str) -> Result<SendResult> {
        msg.set_property(property::SHARDING_KEY, sharding_key);
        self.send_with_selector(msg, &SelectByHash, sharding_key)
            .await
    }

    /// Sends to one given queue.
    pub async fn send_to_queue(&self, msg: Message, mq: &MessageQueue) -> Result<SendResult> {
        self.core.check_running()?;
        if msg.topic != mq.topic {
            return Err(ClientError::illegal(format!(
                "message topic '{}' differs from the queue's topic '{}'",
                msg.topic, mq.topic
            )));
        }
        let out = self.core.prepare(msg)?;
        let mut target = mq.clone();
        target.topic = out.topic.clone();
        self.core.instance.route(&out.topic, true).await?;
        self.core
            .send_once(&out, &target, self.core.config.send_timeout)
            .await
    }

    /// Sends messages of one topic as one SEND_BATCH_MESSAGE (one queue, consecutive offsets).
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        self.core.check_running()?;
        let out = self.core.prepare_batch(msgs)?;
        self.core
            .send_with_retries(&out, self.core.config.retry_times_when_send_failed)
            .await
    }

    /// The writable queues of a topic (fetching its route if needed).
    pub async fn fetch_publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let t = self.core.instance.config().wrap(topic);
        let route = self.core.instance.route(&t, true).await?;
        Ok(route
            .publish_queues
            .iter()
            .map(|q| self.core.visible_queue(q))
            .collect())
    }
}

fn no_queue(topic: &str) -> ClientError {
    ClientError::RouteNotFound {
        topic: topic.to_string(),
        detail: "the route has no writable queue on a broker with a running master".into(),
    }
}

impl ProducerCore {
    pub(crate) fn new(instance: ClientInstance, config: ProducerConfig) -> ProducerCore {
        let group = instance.config().wrap(&config.group);
        ProducerCore {
            instance,
            config,
            group,
            round_robin: RoundRobin::default(),
            isolated: Mutex::new(HashMap::new()),
            state: AtomicU8::new(CREATED),
        }
    }

    pub(crate) async fn start(&self) -> Result<()> {
        match self.state.load(Ordering::SeqCst) {
            RUNNING => return Ok(()),
            STOPPED => {
                return Err(ClientError::state(
                    "the producer was shut down; create a new one",
                ))
            }
            _ => {}
        }
        self.instance.register_producer(&self.group);
        self.instance.start().await;
        self.state.store(RUNNING, Ordering::SeqCst);
        Ok(())
    }

    /// Marks a producer that lives inside a consumer (shares its instance) as running.
    pub(crate) fn mark_running(&self) {
        self.state.store(RUNNING, Ordering::SeqCst);
    }

    fn check_running(&self) -> Result<()> {
        match self.state.load(Ordering::SeqCst) {
            RUNNING => Ok(()),
            CREATED => Err(ClientError::state(
                "the producer is not started; call start() first",
            )),
            _ => Err(ClientError::state(
                "the producer was shut down; create a new one",
            )),
        }
    }

    fn visible_queue(&self, q: &MessageQueue) -> MessageQueue {
        MessageQueue {
            topic: self.instance.config().unwrap(&q.topic),
            broker_name: q.broker_name.clone(),
            queue_id: q.queue_id,
        }
    }

    fn check_message(&self, msg: &Message) -> Result<()> {
        check_topic(&msg.topic)?;
        if FORBIDDEN_SEND_TOPICS.contains(&msg.topic.as_str()) {
            return Err(ClientError::illegal(format!(
                "sending to the system topic '{}' is forbidden",
                msg.topic
            )));
        }
        if msg.body.is_empty() {
            return Err(ClientError::illegal(
                "the message body is empty; RocketMQ requires at least one byte",
            ));
        }
        if msg.body.len() > self.config.max_message_bytes {
            return Err(ClientError::illegal(format!(
                "the message body is {} bytes; the limit is {} (max_message_bytes, and the \
                 broker's maxMessageSize)",
                msg.body.len(),
                self.config.max_message_bytes
            )));
        }
        Ok(())
    }

    /// Validates, assigns UNIQ_KEY, compresses big bodies and encodes the properties once.
    pub(crate) fn prepare(&self, msg: Message) -> Result<Outgoing> {
        self.check_message(&msg)?;
        let Message {
            topic,
            flag,
            mut body,
            mut properties,
        } = msg;
        let topic = self.instance.config().wrap(&topic);
        let uniq_id = match properties.get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX) {
            Some(id) => id.clone(),
            None => {
                let id = UniqueIdGenerator::global().next_id();
                properties.insert(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX.into(), id.clone());
                id
            }
        };
        properties
            .entry(property::WAIT_STORE_MSG_OK.into())
            .or_insert_with(|| "true".into());
        let mut flags = 0;
        if body.len() >= self.config.compress_over_bytes {
            body = Bytes::from(compress(&body, self.config.compress_level)?);
            flags |= sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
        }
        if properties
            .get(property::TRANSACTION_PREPARED)
            .is_some_and(|v| v == "true")
        {
            flags |= sys_flag::TRANSACTION_PREPARED_TYPE;
        }
        let (mut reconsume_times, mut max_reconsume_times) = (None, None);
        if is_retry_topic(&topic) {
            // For %RETRY% topics these travel in the header, not as properties.
            reconsume_times = properties
                .remove(property::RECONSUME_TIME)
                .and_then(|v| v.parse().ok());
            max_reconsume_times = properties
                .remove(property::MAX_RECONSUME_TIMES)
                .and_then(|v| v.parse().ok());
        }
        let reply = properties
            .get(property::MESSAGE_TYPE)
            .is_some_and(|t| t == crate::protocol::message::REPLY_MESSAGE_FLAG);
        let properties = encode_properties(&properties);
        check_properties_len(&properties)?;
        Ok(Outgoing {
            topic,
            body,
            flag,
            sys_flag: flags,
            properties,
            uniq_id,
            reconsume_times,
            max_reconsume_times,
            batch: false,
            reply,
        })
    }

    fn prepare_batch(&self, msgs: Vec<Message>) -> Result<Outgoing> {
        let first = msgs
            .first()
            .ok_or_else(|| ClientError::illegal("a batch needs at least one message"))?;
        let topic = first.topic.clone();
        let wait = first
            .property(property::WAIT_STORE_MSG_OK)
            .unwrap_or("true")
            .to_string();
        let mut items = Vec::with_capacity(msgs.len());
        let mut ids = Vec::with_capacity(msgs.len());
        for mut m in msgs {
            self.check_message(&m)?;
            if m.topic != topic {
                return Err(ClientError::illegal(format!(
                    "all messages of a batch must have one topic; found '{}' and '{}'",
                    topic, m.topic
                )));
            }
            if is_retry_topic(&m.topic) {
                return Err(ClientError::illegal(
                    "retry topics are not supported in batches",
                ));
            }
            if m.delay_level() > 0 {
                return Err(ClientError::illegal(
                    "delayed messages are not supported in batches",
                ));
            }
            if m.property(property::WAIT_STORE_MSG_OK).unwrap_or("true") != wait {
                return Err(ClientError::illegal(
                    "all messages of a batch must have the same wait-store-msg-ok setting",
                ));
            }
            let id = match m.uniq_id() {
                Some(id) => id.to_string(),
                None => {
                    let id = UniqueIdGenerator::global().next_id();
                    m.set_property(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX, &id);
                    id
                }
            };
            m.properties
                .entry(property::WAIT_STORE_MSG_OK.into())
                .or_insert_with(|| wait.clone());
            let props = encode_properties(&m.properties);
            check_properties_len(&props)?;
            ids.push(id);
            items.push(BatchItem {
                flag: m.flag,
                body: m.body,
                properties: props,
            });
        }
        let body = encode_batch(&items);
        if body.len() > self.config.max_message_bytes {
            return Err(ClientError::illegal(format!(
                "the batch encodes to {} bytes; the limit is {}: split it into smaller batches",
                body.len(),
                self.config.max_message_bytes
            )));
        }
        let mut batch_props = HashMap::new();
        batch_props.insert(property::WAIT_STORE_MSG_OK.to_string(), wait);
        Ok(Outgoing {
            topic: self.instance.config().wrap(&topic),
            body: Bytes::from(body),
            flag: 0,
            sys_flag: 0,
            properties: encode_properties(&batch_props),
            uniq_id: ids.join(","),
            reconsume_times: None,
            max_reconsume_times: None,
            batch: true,
            reply: false,
        })
    }

    /// The default send: round-robin queue, up to `1 + retries` attempts within the timeout,
    /// moving away from a broker that failed.
    pub(crate) async fn send_with_retries(
        &self,
        out: &Outgoing,
        retries: u32,
    ) -> Result<SendResult> {
        let timeout = self.config.send_timeout;
        let start = Instant::now();
        let route = self.instance.route(&out.topic, true).await?;
        let mut avoid: Option<String> = None;
        let mut last_err: Option<ClientError> = None;
        let mut last_result: Option<SendResult> = None;
        for attempt in 0..=retries {
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                break;
            }
            // Pick up route changes (a broker gone or added) after a failure.
            let route = if attempt == 0 {
                route.clone()
            } else {
                self.instance
                    .routes()
                    .get(&out.topic)
                    .unwrap_or_else(|| route.clone())
            };
            let mq = self
                .round_robin
                .select_avoiding(&route.publish_queues, |q| {
                    Some(q.broker_name.as_str()) == avoid.as_deref()
                        || self.is_isolated(&q.broker_name)
                })
                .ok_or_else(|| no_queue(&out.topic))?
                .clone();
            let result = self.send_once(out, &mq, timeout - elapsed).await;
            self.note_outcome(&mq.broker_name, &result);
            match result {
                Ok(r)
                    if r.status != SendStatus::SendOk
                        && self.config.retry_another_broker_when_not_store_ok =>
                {
                    avoid = Some(mq.broker_name.clone());
                    last_result = Some(r);
                }
                Ok(r) => return Ok(r),
                Err(e) if retriable(&e) => {
                    tracing::debug!(attempt, broker = %mq.broker_name, error = %e, "send failed, retrying");
                    if matches!(
                        e,
                        ClientError::Broker {
                            code: response_code::TOPIC_NOT_EXIST,
                            ..
                        }
                    ) {
                        let _ = self.instance.update_route(&out.topic, true).await;
                    }
                    avoid = Some(mq.broker_name.clone());
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(r) = last_result {
            return Ok(r);
        }
        match last_err {
            Some(e) if start.elapsed() < timeout => Err(e),
            Some(ClientError::Broker { code, remark, addr }) => {
                Err(ClientError::Broker { code, remark, addr })
            }
            _ => Err(ClientError::Timeout {
                what: format!("sending to topic '{}'", out.topic),
                timeout_ms: timeout.as_millis() as u64,
            }),
        }
    }

    fn is_isolated(&self, broker: &str) -> bool {
        let mut m = self.isolated.lock().unwrap();
        match m.get(broker) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                m.remove(broker);
                false
            }
            None => false,
        }
    }

    /// Isolates a broker whose connection failed; forgives it once a send succeeds.
    fn note_outcome(&self, broker: &str, result: &Result<SendResult>) {
        match result {
            Err(ClientError::Network(e))
                if !self.config.broker_isolation.is_zero()
                    && !matches!(e, crate::remoting::RemotingError::Timeout { .. }) =>
            {
                self.isolated.lock().unwrap().insert(
                    broker.to_string(),
                    Instant::now() + self.config.broker_isolation,
                );
            }
            Ok(_) => {
                let mut m = self.isolated.lock().unwrap();
                if !m.is_empty() {
                    m.remove(broker);
                }
            }
            _ => {}
        }
    }

    fn command(&self, out: &Outgoing, mq: &MessageQueue) -> RemotingCommand {
        let code = if out.batch {
            request_code::SEND_BATCH_MESSAGE
        } else if out.reply {
            request_code::SEND_REPLY_MESSAGE_V2
        } else {
            request_code::SEND_MESSAGE_V2
        };
        let mut cmd = RemotingCommand::request(code)
            .with_ext("a", &self.group)
            .with_ext("b", &out.topic)
            .with_ext("c", AUTO_CREATE_TOPIC)
            .with_ext("d", self.config.default_topic_queue_nums)
            .with_ext("e", mq.queue_id)
            .with_ext("f", out.sys_flag)
            .with_ext("g", crate::protocol::now_ms())
            .with_ext("h", out.flag)
            .with_ext("i", &out.properties)
            .with_ext("j", out.reconsume_times.unwrap_or(0))
            .with_ext("k", false)
            .with_ext("m", out.batch)
            .with_ext("n", &mq.broker_name);
        if let Some(m) = out.max_reconsume_times {
            cmd.set_ext("l", m);
        }
        cmd.body = out.body.clone();
        cmd
    }

    /// One attempt on one queue.
    pub(crate) async fn send_once(
        &self,
        out: &Outgoing,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult> {
        let addr = self
            .instance
            .master_addr(&mq.broker_name, &out.topic)
            .await?;
        let cmd = self.command(out, mq);
        let resp = self.instance.invoke(&addr, cmd, timeout).await?;
        let status = match resp.code {
            response_code::SUCCESS => SendStatus::SendOk,
            response_code::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            response_code::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            response_code::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            code => return Err(ClientError::broker(code, resp.remark.as_deref(), &addr)),
        };
        let queue_id = resp
            .ext_i32_or("queueId", mq.queue_id)
            .unwrap_or(mq.queue_id);
        Ok(SendResult {
            status,
            msg_id: out.uniq_id.clone(),
            offset_msg_id: resp.ext("msgId").unwrap_or_default().to_string(),
            message_queue: MessageQueue {
                topic: self.instance.config().unwrap(&out.topic),
                broker_name: mq.broker_name.clone(),
                queue_id,
            },
            queue_offset: resp.ext_i64_or("queueOffset", -1).unwrap_or(-1),
            transaction_id: resp.ext("transactionId").map(str::to_string),
            region_id: resp.ext(property::MSG_REGION).map(str::to_string),
        })
    }

    pub(crate) async fn send_oneway_to(&self, out: &Outgoing, mq: &MessageQueue) -> Result<()> {
        let addr = self
            .instance
            .master_addr(&mq.broker_name, &out.topic)
            .await?;
        self.instance
            .invoke_oneway(&addr, self.command(out, mq))
            .await
    }
}

fn check_properties_len(p: &str) -> Result<()> {
    if p.len() > crate::protocol::limits::PROPERTIES_MAX_BYTES {
        return Err(ClientError::illegal(format!(
            "the message properties take {} bytes; the limit is {}",
            p.len(),
            crate::protocol::limits::PROPERTIES_MAX_BYTES
        )));
    }
    Ok(())
}

/// Failures after which Java tries another queue: the transport, and broker codes that mean
/// "this broker cannot take it now".
fn retriable(e: &ClientError) -> bool {
    match e {
        ClientError::Network(_) | ClientError::Timeout { .. } => true,
        ClientError::Broker { code, .. } => matches!(
            *code,
            response_code::SYSTEM_ERROR
                | response_code::SERVICE_NOT_AVAILABLE
                | response_code::NO_PERMISSION
                | response_code::TOPIC_NOT_EXIST
                | response_code::NO_BUYER_ID
                | response_code::NOT_IN_CURRENT_UNIT
        ),
        // A broker whose address vanished from the route.
        ClientError::ClientState(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{decode_batch, decode_properties};

    fn core() -> ProducerCore {
        let cfg = ProducerConfig::new("127.0.0.1:9876", "pg");
        let inst = ClientInstance::new(cfg.client.clone()).unwrap();
        ProducerCore::new(inst, cfg)
    }

    #[tokio::test]
    async fn prepare_assigns_id_and_compresses_large_bodies() {
        let c = core();
        let small = c
            .prepare(Message::new("T", vec![1u8; 100]).with_tags("A"))
            .unwrap();
        assert_eq!(small.sys_flag, 0);
        assert_eq!(small.uniq_id.len(), 32);
        let props = decode_properties(&small.properties);
        assert_eq!(props["UNIQ_KEY"], small.uniq_id);
        assert_eq!(props["WAIT"], "true");
        assert_eq!(props["TAGS"], "A");
        let big = c.prepare(Message::new("T", vec![7u8; 4096])).unwrap();
        assert_eq!(big.sys_flag, 0x1 | 0x300);
        assert_eq!(
            crate::client::message::decompress(&big.body).unwrap(),
            vec![7u8; 4096]
        );
        let under = c.prepare(Message::new("T", vec![7u8; 4095])).unwrap();
        assert_eq!(under.sys_flag, 0);
    }

    #[tokio::test]
    async fn prepare_rejects_bad_messages_clearly() {
        let c = core();
        let e = c.prepare(Message::new("T", Vec::<u8>::new())).unwrap_err();
        assert!(e.to_string().contains("empty"));
        let e = c.prepare(Message::new("bad topic", "x")).unwrap_err();
        assert_eq!(e.kind(), crate::client::ErrorKind::IllegalArgument);
        let e = c
            .prepare(Message::new("T", vec![0u8; 4 * 1024 * 1024 + 1]))
            .unwrap_err();
        assert!(e.to_string().contains("limit"));
        assert!(c.prepare(Message::new("SCHEDULE_TOPIC_XXXX", "x")).is_err());
    }

    #[tokio::test]
    async fn retry_topic_moves_reconsume_counts_to_header() {
        let c = core();
        let out = c
            .prepare(
                Message::new("%RETRY%g", "x")
                    .with_property("RECONSUME_TIME", "3")
                    .with_property("MAX_RECONSUME_TIMES", "16"),
            )
            .unwrap();
        assert_eq!(out.reconsume_times, Some(3));
        assert_eq!(out.max_reconsume_times, Some(16));
        assert!(!out.properties.contains("RECONSUME_TIME"));
        let mq = MessageQueue {
            topic: "%RETRY%g".into(),
            broker_name: "b".into(),
            queue_id: 0,
        };
        let cmd = c.command(&out, &mq);
        assert_eq!(cmd.ext("j"), Some("3"));
        assert_eq!(cmd.ext("l"), Some("16"));
        assert_eq!(cmd.code, request_code::SEND_MESSAGE_V2);
    }

    #[tokio::test]
    async fn batch_encodes_each_message_with_its_own_id() {
        let c = core();
        let out = c
            .prepare_batch(vec![
                Message::new("T", "one").with_tags("A"),
                Message::new("T", "two"),
            ])
            .unwrap();
        assert!(out.batch);
        let items = decode_batch(&out.body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(&items[1].body[..], b"two");
        let ids: Vec<String> = items
            .iter()
            .map(|i| decode_properties(&i.properties)["UNIQ_KEY"].clone())
            .collect();
        assert_eq!(out.uniq_id, ids.join(","));
        assert_ne!(ids[0], ids[1]);
        assert_eq!(decode_properties(&out.properties)["WAIT"], "true");
        let mq = MessageQueue::default();
        let cmd = c.command(&out, &mq);
        assert_eq!(cmd.code, request_code::SEND_BATCH_MESSAGE);
        assert_eq!(cmd.ext("m"), Some("true"));
        assert!(c
            .prepare_batch(vec![Message::new("T", "a"), Message::new("U", "b")])
            .is_err());
        assert!(c
            .prepare_batch(vec![Message::new("T", "a").with_delay_level(2)])
            .is_err());
        assert!(c.prepare_batch(vec![]).is_err());
    }

    #[tokio::test]
    async fn connection_failures_isolate_a_broker_until_a_send_succeeds() {
        let c = core();
        assert!(!c.is_isolated("b"));
        let refused = ClientError::Network(crate::remoting::RemotingError::Connect {
            addr: "x".into(),
            reason: "refused".into(),
        });
        c.note_outcome("b", &Err(refused));
        assert!(c.is_isolated("b"));
        let slow = ClientError::Network(crate::remoting::RemotingError::Timeout {
            addr: "x".into(),
            timeout_ms: 1,
        });
        c.note_outcome("a", &Err(slow));
        assert!(!c.is_isolated("a"), "a slow answer is not a dead broker");
        let ok = SendResult {
            status: SendStatus::SendOk,
            msg_id: String::new(),
            offset_msg_id: String::new(),
            message_queue: MessageQueue::default(),
            queue_offset: 0,
            transaction_id: None,
            region_id: None,
        };
        c.note_outcome("b", &Ok(ok));
        assert!(!c.is_isolated("b"));
    }

    #[tokio::test]
    async fn sending_before_start_is_a_state_error() {
        let p = Producer::new(ProducerConfig::new("127.0.0.1:9876", "pg")).unwrap();
        let e = p.send(Message::new("T", "x")).await.unwrap_err();
        assert_eq!(e.kind(), crate::client::ErrorKind::ClientState);
        assert!(e.to_string().contains("start()"));
    }
}
