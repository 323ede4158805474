//! What push and lite pull consumers share: settings, message model, where to start, the
//! listener contract, and computing a queue's starting offset.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::config::{is_retry_topic, ClientConfig};
use super::instance::ClientInstance;
use super::message::MessageExt;
use super::offset_store::{OffsetStore, ReadOffsetType, OFFSET_UNAVAILABLE};
use super::pull::{max_offset, search_offset};
use super::rebalance::{AllocateMessageQueueAveragely, AllocateStrategy};
use crate::protocol::bodies::MessageQueue;

/// Who gets a message: one consumer of the group (clustering) or all of them (broadcasting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageModel {
    Clustering,
    Broadcasting,
}

impl MessageModel {
    pub fn is_clustering(self) -> bool {
        self == MessageModel::Clustering
    }
    pub fn wire_name(self) -> &'static str {
        match self {
            MessageModel::Clustering => "CLUSTERING",
            MessageModel::Broadcasting => "BROADCASTING",
        }
    }
}

/// Where a group starts on a queue it has no stored offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeFromWhere {
    LastOffset,
    FirstOffset,
    /// From `ConsumerConfig::consume_timestamp_ms`.
    Timestamp,
}

impl ConsumeFromWhere {
    pub fn wire_name(self) -> &'static str {
        match self {
            ConsumeFromWhere::LastOffset => "CONSUME_FROM_LAST_OFFSET",
            ConsumeFromWhere::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
            ConsumeFromWhere::Timestamp => "CONSUME_FROM_TIMESTAMP",
        }
    }
}

/// What a listener says about the messages it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeResult {
    /// Done; the offset may move past them.
    Success,
    /// Try again later: concurrently, the messages go back to the broker's retry queue;
    /// orderly, the queue pauses a moment and they are redelivered in place.
    ReconsumeLater,
}

/// Where the delivered messages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeContext {
    pub queue: MessageQueue,
    pub orderly: bool,
}

/// One delivery's messages as `MessageListener::consume_each` gets them.
pub type SharedMessages = Arc<[MessageExt]>;

/// Application code consuming messages. It runs on the consumer's own threads and may block.
/// A panic counts as `ReconsumeLater`.
pub trait MessageListener: Send + Sync + 'static {
    fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult;

    /// Several independent deliveries at once: one result per delivery, in order, each what
    /// `consume` would have returned for it. Concurrent consumption hands a consume thread
    /// several queued deliveries only when `max_deliveries_per_call` allows it and more are
    /// queued than idle consume threads could take, so a listener with a fixed price per call
    /// (the Python binding takes the GIL) pays it once for all of them. The default calls
    /// `consume` for each.
    ///
    /// The messages come shared: a listener that keeps them past its call (the Python
    /// binding's message objects) clones the `Arc`, not the messages.
    fn consume_each(
        &self,
        deliveries: &[(&SharedMessages, &ConsumeContext)],
    ) -> Vec<ConsumeResult> {
        deliveries
            .iter()
            .map(|(msgs, ctx)| self.consume(msgs, ctx))
            .collect()
    }

    /// Most deliveries `consume_each` is given at once; 1, the default, never groups them.
    fn max_deliveries_per_call(&self) -> usize {
        1
    }
}

impl<F> MessageListener for F
where
    F: Fn(&[MessageExt], &ConsumeContext) -> ConsumeResult + Send + Sync + 'static,
{
    fn consume(&self, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
        self(msgs, ctx)
    }
}

/// Consumer settings. Defaults are Java's unless noted.
#[derive(Clone)]
pub struct ConsumerConfig {
    pub client: ClientConfig,
    pub group: String,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
    /// For `ConsumeFromWhere::Timestamp`; default half an hour before the consumer was built.
    pub consume_timestamp_ms: i64,
    /// Threads running the listener (push consumer).
    pub consume_thread_nums: usize,
    /// Most messages handed to the listener at once.
    pub consume_batch_max_size: usize,
    /// Most messages asked for in one pull.
    pub pull_batch_size: i32,
    /// Flow control: stop pulling a queue with this many messages cached.
    pub pull_threshold_for_queue: usize,
    /// Flow control: stop pulling a queue with this many MiB cached.
    pub pull_threshold_size_for_queue_mib: usize,
    /// Flow control (concurrent): stop pulling when cached offsets span more than this.
    pub consume_concurrently_max_span: i64,
    /// Deliveries before a message goes to the dead-letter queue; -1 = default (16 for
    /// concurrent consumption, unlimited for orderly).
    pub max_reconsume_times: i32,
    /// Orderly: pause of a queue after `ReconsumeLater`.
    pub suspend_current_queue_time: Duration,
    /// Delay level for messages sent back (0 = broker decides: 3 + reconsume times).
    pub delay_level_when_next_consume: i32,
    pub allocate_strategy: Arc<dyn AllocateStrategy>,
    /// Broadcasting offsets go to `<dir>/<client id>/<group>/offsets.json`; default the
    /// system temp dir's `rocketmq_offsets` (never $HOME unless you set it).
    pub offset_store_dir: Option<PathBuf>,
    pub persist_offset_interval: Duration,
    pub rebalance_interval: Duration,
    /// How long the broker may hold a pull with no new message (long polling).
    pub broker_suspend_max_time: Duration,
    /// Timeout of a long-polling pull request (must exceed the suspend time).
    pub consumer_timeout_when_suspend: Duration,
    /// Pause after a failed pull.
    pub pull_time_delay_when_exception: Duration,
    /// Send the subscription with every pull instead of relying on the heartbeat's.
    pub post_subscription_when_pull: bool,
    /// How long the push consumer's `shutdown` waits for listener calls still running (Java's
    /// `awaitTerminationMillisWhenShutdown`, whose 0 there means "do not wait"; here shutdown
    /// always joins its consume threads, and this bounds the wait for a stuck listener).
    pub listener_shutdown_timeout: Duration,
}

impl std::fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerConfig")
            .field("client", &self.client)
            .field("group", &self.group)
            .field("message_model", &self.message_model)
            .field("consume_from_where", &self.consume_from_where)
            .field("allocate_strategy", &self.allocate_strategy.name())
            .finish_non_exhaustive()
    }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group: String::new(),
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::LastOffset,
            consume_timestamp_ms: crate::protocol::now_ms() - 30 * 60 * 1000,
            consume_thread_nums: 20,
            consume_batch_max_size: 1,
            pull_batch_size: 32,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue_mib: 100,
            consume_concurrently_max_span: 2000,
            max_reconsume_times: -1,
            suspend_current_queue_time: Duration::from_secs(1),
            delay_level_when_next_consume: 0,
            allocate_strategy: Arc::new(AllocateMessageQueueAveragely),
            offset_store_dir: None,
            persist_offset_interval: Duration::from_secs(5),
            rebalance_interval: Duration::from_secs(20),
            broker_suspend_max_time: Duration::from_secs(15),
            consumer_timeout_when_suspend: Duration::from_secs(30),
            pull_time_delay_when_exception: Duration::from_secs(1),
            post_subscription_when_pull: false,
            listener_shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl ConsumerConfig {
    pub fn new(namesrv_addr: &str, group: &str) -> Self {
        ConsumerConfig {
            client: ClientConfig::new(namesrv_addr),
            group: group.into(),
            ..Default::default()
        }
    }

    pub(crate) fn offset_dir(&self) -> PathBuf {
        self.offset_store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("rocketmq_offsets"))
    }

    /// The effective retry limit for the consumption style.
    pub(crate) fn max_reconsume(&self, orderly: bool) -> i32 {
        match (self.max_reconsume_times, orderly) {
            (-1, true) => i32::MAX,
            (-1, false) => 16,
            (n, _) => n,
        }
    }
}

/// The offset store a consumer of this model uses.
pub(crate) fn make_offset_store(
    config: &ConsumerConfig,
    instance: &ClientInstance,
    group: &str,
) -> super::error::Result<OffsetStore> {
    Ok(match config.message_model {
        MessageModel::Clustering => OffsetStore::remote(instance.clone(), group),
        MessageModel::Broadcasting => {
            OffsetStore::local(&config.offset_dir(), instance.client_id(), group)?
        }
    })
}

/// Where to start pulling `mq` (§9.4): the stored offset, else by `consume_from_where`.
/// Negative means "cannot tell now; try at the next rebalance".
pub(crate) async fn compute_pull_from_where(
    config: &ConsumerConfig,
    instance: &ClientInstance,
    store: &OffsetStore,
    mq: &MessageQueue,
) -> i64 {
    let last = store.read(mq, ReadOffsetType::Store).await;
    if last >= 0 {
        return last;
    }
    if last == OFFSET_UNAVAILABLE {
        return -1;
    }
    let retry = is_retry_topic(&mq.topic);
    let r = match config.consume_from_where {
        ConsumeFromWhere::FirstOffset => Ok(0),
        ConsumeFromWhere::LastOffset if retry => Ok(0),
        ConsumeFromWhere::LastOffset => max_offset(instance, mq).await,
        ConsumeFromWhere::Timestamp if retry => max_offset(instance, mq).await,
        ConsumeFromWhere::Timestamp => {
            search_offset(instance, mq, config.consume_timestamp_ms).await
        }
    };
    r.unwrap_or_else(|e| {
        tracing::debug!(?mq, error = %e, "cannot compute the start offset");
        -1
    })
}

/// The queues of `topic` this client should own now.
pub(crate) async fn allocate_queues(
    config: &ConsumerConfig,
    instance: &ClientInstance,
    group: &str,
    topic: &str,
) -> super::error::Result<Vec<MessageQueue>> {
    let route = instance.route(topic, false).await?;
    let mq_all = route.subscribe_queues.clone();
    match config.message_model {
        MessageModel::Broadcasting => Ok(mq_all),
        MessageModel::Clustering => {
            let mut cids = instance.consumer_ids(topic, group).await?;
            cids.sort();
            cids.dedup();
            tracing::trace!(topic, ?cids, me = instance.client_id(), "group members");
            Ok(config
                .allocate_strategy
                .allocate(group, instance.client_id(), &mq_all, &cids))
        }
    }
}
