//! The lite pull consumer: the application calls `poll`; background pulls keep a bounded
//! buffer filled for the queues it subscribed to (rebalanced) or assigned itself. Offsets are
//! committed automatically or by `commit_sync`; `seek` moves a queue anywhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use super::config::check_topic;
use super::consumer::{
    allocate_queues, compute_pull_from_where, make_offset_store, ConsumerConfig,
};
use super::error::{ClientError, Result};
use super::instance::{ClientInstance, ConsumerHooks};
use super::message::MessageExt;
use super::offset_store::{OffsetStore, ReadOffsetType};
use super::process_queue::ProcessQueue;
use super::pull::{self, pull_flag, PullRequest, PullResult, PullStatus};
use crate::protocol::bodies::{ConsumerData, MessageQueue, SubscriptionData};

const CREATED: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

/// Batches buffered between the pull tasks and `poll`.
const BUFFERED_BATCHES_MAX: usize = 1024;

/// Lite pull consumer settings.
#[derive(Debug, Clone)]
pub struct LitePullConfig {
    pub consumer: ConsumerConfig,
    /// Commit consumed offsets every `auto_commit_interval` (and at shutdown).
    pub auto_commit: bool,
    pub auto_commit_interval: Duration,
    /// Messages per pull (Java default 10).
    pub pull_batch_size: i32,
    /// Long-poll hold on the broker (Java 20 s).
    pub broker_suspend_max_time: Duration,
}

impl LitePullConfig {
    pub fn new(namesrv_addr: &str, group: &str) -> Self {
        LitePullConfig {
            consumer: ConsumerConfig::new(namesrv_addr, group),
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            pull_batch_size: 10,
            broker_suspend_max_time: Duration::from_secs(20),
        }
    }
}

/// One queue this consumer reads.
struct Assigned {
    pq: Arc<ProcessQueue>,
    /// Bumped by `seek`: buffered batches of older epochs are discarded.
    epoch: AtomicU64,
    seek_to: Mutex<Option<i64>>,
    seeked: Notify,
    /// Next offset after the last message `poll` returned (-1 = none yet).
    consumed: AtomicI64,
    paused: AtomicBool,
}

struct Batch {
    mq: MessageQueue,
    epoch: u64,
    msgs: Vec<MessageExt>,
}

struct LiteInner {
    config: LitePullConfig,
    group: String,
    instance: ClientInstance,
    subscriptions: Mutex<BTreeMap<String, SubscriptionData>>,
    /// True once `assign` was used (no rebalance then).
    assigned_mode: AtomicBool,
    queues: Mutex<HashMap<MessageQueue, Arc<Assigned>>>,
    offset_store: OffsetStore,
    tx: mpsc::Sender<Batch>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Batch>>,
    state: AtomicU8,
    rebalance_now: Notify,
}

/// See the module docs.
#[derive(Clone)]
pub struct LitePullConsumer {
    inner: Arc<LiteInner>,
}

struct Hooks(std::sync::Weak<LiteInner>);

impl ConsumerHooks for Hooks {
    fn consumer_data(&self) -> ConsumerData {
        let Some(i) = self.0.upgrade() else {
            return ConsumerData::default();
        };
        let subs: Vec<SubscriptionData> =
            i.subscriptions.lock().unwrap().values().cloned().collect();
        ConsumerData {
            group_name: i.group.clone(),
            consume_type: "CONSUME_ACTIVELY".into(),
            message_model: i.config.consumer.message_model.wire_name().into(),
            consume_from_where: i.config.consumer.consume_from_where.wire_name().into(),
            subscription_data_set: subs,
            unit_mode: false,
        }
    }
    fn on_consumer_ids_changed(&self) {
        if let Some(i) = self.0.upgrade() {
            i.rebalance_now.notify_one();
        }
    }
    fn running_info(&self) -> serde_json::Value {
        serde_json::json!({"properties": {"consumeType": "CONSUME_ACTIVELY"}})
    }
    fn reset_offset(&self, _topic: &str, offsets: HashMap<MessageQueue, i64>) {
        if let Some(i) = self.0.upgrade() {
            for (mq, off) in offsets {
                let _ = i.seek(&mq, off);
            }
        }
    }
}

impl LitePullConsumer {
    pub fn new(config: LitePullConfig) -> Result<Self> {
        super::config::check_group(&config.consumer.group)?;
        let instance = ClientInstance::new(config.consumer.client.clone())?;
        let group = instance.config().wrap(&config.consumer.group);
        let offset_store = make_offset_store(&config.consumer, &instance, &group)?;
        let (tx, rx) = mpsc::channel(BUFFERED_BATCHES_MAX);
        Ok(LitePullConsumer {
            inner: Arc::new(LiteInner {
                config,
                group,
                instance,
                subscriptions: Mutex::new(BTreeMap::new()),
                assigned_mode: AtomicBool::new(false),
                queues: Mutex::new(HashMap::new()),
                offset_store,
                tx,
                rx: tokio::sync::Mutex::new(rx),
                state: AtomicU8::new(CREATED),
                rebalance_now: Notify::new(),
            }),
        })
    }

    pub fn client_id(&self) -> &str {
        self.inner.instance.client_id()
    }

    /// Subscribes (queues come from rebalance among the group).
    pub fn subscribe(&self, topic: &str, tag_expression: &str) -> Result<()> {
        self.subscribe_typed(topic, tag_expression, "TAG")
    }

    pub fn subscribe_sql92(&self, topic: &str, sql: &str) -> Result<()> {
        self.subscribe_typed(topic, sql, "SQL92")
    }

    fn subscribe_typed(&self, topic: &str, expr: &str, ty: &str) -> Result<()> {
        check_topic(topic)?;
        if self.inner.assigned_mode.load(Ordering::SeqCst) {
            return Err(ClientError::state(
                "this consumer uses assign(); subscribe and assign cannot be mixed",
            ));
        }
        let t = self.inner.instance.config().wrap(topic);
        self.inner
            .subscriptions
            .lock()
            .unwrap()
            .insert(t.clone(), SubscriptionData::new(&t, expr, ty));
        if self.inner.state.load(Ordering::SeqCst) == RUNNING {
            self.inner.rebalance_now.notify_one();
        }
        Ok(())
    }

    /// Reads exactly these queues (no rebalance). Replaces a previous assignment.
    pub async fn assign(&self, queues: Vec<MessageQueue>) -> Result<()> {
        let inner = &self.inner;
        if !inner.subscriptions.lock().unwrap().is_empty()
            && !inner.assigned_mode.load(Ordering::SeqCst)
        {
            return Err(ClientError::state(
                "this consumer uses subscribe(); subscribe and assign cannot be mixed",
            ));
        }
        inner.assigned_mode.store(true, Ordering::SeqCst);
        let wrapped: Vec<MessageQueue> = queues
            .iter()
            .map(|q| MessageQueue {
                topic: inner.instance.config().wrap(&q.topic),
                ..q.clone()
            })
            .collect();
        {
            let mut subs = inner.subscriptions.lock().unwrap();
            for q in &wrapped {
                subs.entry(q.topic.clone())
                    .or_insert_with(|| SubscriptionData::new(&q.topic, "*", "TAG"));
            }
        }
        if inner.state.load(Ordering::SeqCst) == RUNNING {
            inner.clone().set_queues(wrapped).await;
        } else {
            // Remembered until start().
            let mut q = inner.queues.lock().unwrap();
            q.clear();
            for mq in wrapped {
                q.insert(mq, Arc::new(Assigned::new()));
            }
        }
        Ok(())
    }

    pub async fn start(&self) -> Result<()> {
        let inner = self.inner.clone();
        match inner.state.load(Ordering::SeqCst) {
            RUNNING => return Ok(()),
            STOPPED => {
                return Err(ClientError::state(
                    "the consumer was shut down; create a new one",
                ))
            }
            _ => {}
        }
        inner
            .instance
            .register_consumer(&inner.group, Arc::new(Hooks(Arc::downgrade(&inner))));
        inner.instance.start().await;
        let topics: Vec<String> = inner
            .subscriptions
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for t in &topics {
            if let Err(e) = inner.instance.update_route(t, false).await {
                tracing::debug!(topic = %t, error = %e, "no route yet");
            }
        }
        inner.state.store(RUNNING, Ordering::SeqCst);
        inner.instance.send_heartbeat_to_all().await;
        if inner.assigned_mode.load(Ordering::SeqCst) {
            let pre: Vec<MessageQueue> = inner
                .queues
                .lock()
                .unwrap()
                .drain()
                .map(|(q, _)| q)
                .collect();
            inner.clone().set_queues(pre).await;
        } else {
            let me = inner.clone();
            let mut stop = inner.instance.stop_signal();
            inner.instance.track(tokio::spawn(async move {
                loop {
                    me.clone().rebalance().await;
                    tokio::select! {
                        _ = me.rebalance_now.notified() => {}
                        _ = tokio::time::sleep(me.config.consumer.rebalance_interval) => {}
                        _ = stop.changed() => return,
                    }
                }
            }));
        }
        if inner.config.auto_commit {
            let me = inner.clone();
            let every = inner.config.auto_commit_interval;
            inner.instance.spawn_periodic(every, every, move || {
                let me = me.clone();
                async move {
                    let _ = me.commit_all().await;
                }
            });
        }
        Ok(())
    }

    /// Commits (when auto-committing), unregisters and closes connections.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.state.swap(STOPPED, Ordering::SeqCst) != RUNNING {
            return;
        }
        if inner.config.auto_commit {
            if let Err(e) = inner.commit_all().await {
                tracing::warn!(error = %e, "committing offsets at shutdown failed");
            }
        }
        for a in inner.queues.lock().unwrap().values() {
            a.pq.set_dropped();
        }
        inner.instance.shutdown().await;
    }

    /// Messages pulled so far, waiting up to `timeout` for at least one.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        let inner = &self.inner;
        if inner.state.load(Ordering::SeqCst) != RUNNING {
            return Err(ClientError::state(
                "the consumer is not running; call start() first",
            ));
        }
        let deadline = Instant::now() + timeout;
        let mut rx = inner.rx.lock().await;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let batch = match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(b)) => b,
                Ok(None) | Err(_) => return Ok(Vec::new()),
            };
            let a = inner.queues.lock().unwrap().get(&batch.mq).cloned();
            let Some(a) = a else { continue };
            if a.pq.is_dropped() || a.epoch.load(Ordering::SeqCst) != batch.epoch {
                continue;
            }
            let offset = a.pq.remove(batch.msgs.iter().map(|m| m.queue_offset));
            if offset >= 0 {
                a.consumed.store(offset, Ordering::SeqCst);
            }
            let mut msgs = batch.msgs;
            for m in &mut msgs {
                m.topic = inner.instance.config().unwrap(&m.topic);
            }
            return Ok(msgs);
        }
    }

    /// Commits the offsets after everything `poll` returned, for every queue.
    pub async fn commit_sync(&self) -> Result<()> {
        self.inner.commit_all().await
    }

    /// Commits the given offsets ("next offset to consume") for these queues.
    pub async fn commit(&self, offsets: HashMap<MessageQueue, i64>) -> Result<()> {
        let inner = &self.inner;
        let mut mqs = Vec::new();
        for (q, off) in offsets {
            let w = inner.wrap_queue(&q);
            inner.offset_store.update(&w, off, false);
            mqs.push(w);
        }
        inner.offset_store.persist_all(&mqs).await
    }

    /// The committed offset of a queue (-1 if none).
    pub async fn committed(&self, mq: &MessageQueue) -> i64 {
        let w = self.inner.wrap_queue(mq);
        self.inner
            .offset_store
            .read(&w, ReadOffsetType::Store)
            .await
    }

    /// Reads `mq` from `offset` next (must be within the queue's min..=max).
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        let w = self.inner.wrap_queue(mq);
        let min = pull::min_offset(&self.inner.instance, &w).await?;
        let max = pull::max_offset(&self.inner.instance, &w).await?;
        if offset < min || offset > max {
            return Err(ClientError::illegal(format!(
                "seek offset {offset} is outside the queue's range {min}..={max}"
            )));
        }
        self.inner.seek(&w, offset)
    }

    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<()> {
        let w = self.inner.wrap_queue(mq);
        let min = pull::min_offset(&self.inner.instance, &w).await?;
        self.inner.seek(&w, min)
    }

    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<()> {
        let w = self.inner.wrap_queue(mq);
        let max = pull::max_offset(&self.inner.instance, &w).await?;
        self.inner.seek(&w, max)
    }

    /// Reads `mq` from the first message stored at or after `timestamp_ms`.
    pub async fn seek_to_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<()> {
        let offset = self.offset_for_timestamp(mq, timestamp_ms).await?;
        self.inner.seek(&self.inner.wrap_queue(mq), offset)
    }

    pub async fn offset_for_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        pull::search_offset(
            &self.inner.instance,
            &self.inner.wrap_queue(mq),
            timestamp_ms,
        )
        .await
    }

    /// Stops pulling these queues until `resume`.
    pub fn pause(&self, mqs: &[MessageQueue]) {
        self.set_paused(mqs, true)
    }
    pub fn resume(&self, mqs: &[MessageQueue]) {
        self.set_paused(mqs, false)
    }
    fn set_paused(&self, mqs: &[MessageQueue], paused: bool) {
        let q = self.inner.queues.lock().unwrap();
        for mq in mqs {
            if let Some(a) = q.get(&self.inner.wrap_queue(mq)) {
                a.paused.store(paused, Ordering::SeqCst);
            }
        }
    }

    /// Readable queues of a topic.
    pub async fn fetch_message_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let t = self.inner.instance.config().wrap(topic);
        let r = self.inner.instance.update_route(&t, false).await?;
        Ok(r.subscribe_queues
            .iter()
            .map(|q| MessageQueue {
                topic: topic.to_string(),
                ..q.clone()
            })
            .collect())
    }

    /// The queues read now.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = self
            .inner
            .queues
            .lock()
            .unwrap()
            .keys()
            .map(|q| MessageQueue {
                topic: self.inner.instance.config().unwrap(&q.topic),
                ..q.clone()
            })
            .collect();
        v.sort();
        v
    }

    /// One plain pull, independent of subscriptions and offsets (no long polling): up to
    /// `max_nums` messages of `mq` from `offset` matching a tag expression.
    pub async fn pull(
        &self,
        mq: &MessageQueue,
        tag_expression: &str,
        offset: i64,
        max_nums: i32,
        timeout: Duration,
    ) -> Result<PullResult> {
        let inner = &self.inner;
        if inner.state.load(Ordering::SeqCst) != RUNNING {
            return Err(ClientError::state(
                "the consumer is not running; call start() first",
            ));
        }
        if max_nums <= 0 {
            return Err(ClientError::illegal("max_nums must be positive"));
        }
        let w = inner.wrap_queue(mq);
        let sub = SubscriptionData::new(&w.topic, tag_expression, "TAG");
        let mut r = pull::pull(
            &inner.instance,
            PullRequest {
                group: &inner.group,
                mq: &w,
                subscription: &sub,
                offset,
                max_nums,
                sys_flag: pull_flag::SUBSCRIPTION,
                commit_offset: 0,
                suspend: Duration::ZERO,
                timeout,
            },
        )
        .await?;
        for m in &mut r.msgs {
            m.topic = inner.instance.config().unwrap(&m.topic);
        }
        Ok(r)
    }
}

impl Assigned {
    fn new() -> Self {
        Assigned {
            pq: Arc::new(ProcessQueue::new()),
            epoch: AtomicU64::new(0),
            seek_to: Mutex::new(None),
            seeked: Notify::new(),
            consumed: AtomicI64::new(-1),
            paused: AtomicBool::new(false),
        }
    }
}

impl LiteInner {
    fn wrap_queue(&self, q: &MessageQueue) -> MessageQueue {
        MessageQueue {
            topic: self.instance.config().wrap(&q.topic),
            ..q.clone()
        }
    }

    fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        let a = self
            .queues
            .lock()
            .unwrap()
            .get(mq)
            .cloned()
            .ok_or_else(|| {
                ClientError::illegal(format!(
                    "queue {}:{}:{} is not assigned to this consumer",
                    mq.topic, mq.broker_name, mq.queue_id
                ))
            })?;
        a.epoch.fetch_add(1, Ordering::SeqCst);
        a.pq.clear();
        *a.seek_to.lock().unwrap() = Some(offset);
        a.seeked.notify_one();
        Ok(())
    }

    async fn commit_all(&self) -> Result<()> {
        let mut mqs = Vec::new();
        let queues: Vec<(MessageQueue, Arc<Assigned>)> = self
            .queues
            .lock()
            .unwrap()
            .iter()
            .map(|(q, a)| (q.clone(), a.clone()))
            .collect();
        for (q, a) in queues {
            let off = a.consumed.load(Ordering::SeqCst);
            if off >= 0 {
                self.offset_store.update(&q, off, false);
                mqs.push(q);
            }
        }
        self.offset_store.persist_all(&mqs).await
    }

    async fn rebalance(self: Arc<Self>) {
        let topics: Vec<String> = self.subscriptions.lock().unwrap().keys().cloned().collect();
        let mut mine = Vec::new();
        for t in &topics {
            match allocate_queues(&self.config.consumer, &self.instance, &self.group, t).await {
                Ok(qs) => mine.extend(qs),
                Err(e) => {
                    tracing::debug!(topic = %t, error = %e, "rebalance skipped a topic");
                    // Keep what we have of that topic.
                    mine.extend(
                        self.queues
                            .lock()
                            .unwrap()
                            .keys()
                            .filter(|q| &q.topic == t)
                            .cloned(),
                    );
                }
            }
        }
        self.set_queues(mine).await;
    }

    /// Makes `mqs` the set of queues read: stops the others (committing them), starts new ones.
    async fn set_queues(self: Arc<Self>, mqs: Vec<MessageQueue>) {
        let removed: Vec<(MessageQueue, Arc<Assigned>)> = {
            let q = self.queues.lock().unwrap();
            q.iter()
                .filter(|(k, _)| !mqs.contains(k))
                .map(|(k, a)| (k.clone(), a.clone()))
                .collect()
        };
        for (mq, a) in removed {
            a.pq.set_dropped();
            self.queues.lock().unwrap().remove(&mq);
            let off = a.consumed.load(Ordering::SeqCst);
            if off >= 0 && self.config.auto_commit {
                self.offset_store.update(&mq, off, false);
                let _ = self.offset_store.persist(&mq).await;
            }
            self.offset_store.remove(&mq);
        }
        for mq in mqs {
            if self.queues.lock().unwrap().contains_key(&mq) {
                continue;
            }
            let a = Arc::new(Assigned::new());
            self.queues.lock().unwrap().insert(mq.clone(), a.clone());
            let me = self.clone();
            self.instance
                .track(tokio::spawn(async move { me.pull_loop(mq, a).await }));
        }
    }

    async fn pull_loop(self: Arc<Self>, mq: MessageQueue, a: Arc<Assigned>) {
        let mut stop = self.instance.stop_signal();
        let mut next: Option<i64> = None;
        let cfg = &self.config.consumer;
        loop {
            if a.pq.is_dropped() || self.state.load(Ordering::SeqCst) != RUNNING {
                return;
            }
            if a.paused.load(Ordering::SeqCst) || a.pq.cached_count() > cfg.pull_threshold_for_queue
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            if let Some(s) = a.seek_to.lock().unwrap().take() {
                next = Some(s);
            }
            let offset = match next {
                Some(o) => o,
                None => {
                    let o =
                        compute_pull_from_where(cfg, &self.instance, &self.offset_store, &mq).await;
                    if o < 0 {
                        tokio::time::sleep(cfg.pull_time_delay_when_exception).await;
                        continue;
                    }
                    next = Some(o);
                    o
                }
            };
            let sub = match self.subscriptions.lock().unwrap().get(&mq.topic) {
                Some(s) => s.clone(),
                None => SubscriptionData::new(&mq.topic, "*", "TAG"),
            };
            let epoch = a.epoch.load(Ordering::SeqCst);
            let req = PullRequest {
                group: &self.group,
                mq: &mq,
                subscription: &sub,
                offset,
                max_nums: self.config.pull_batch_size,
                sys_flag: pull_flag::SUSPEND | pull_flag::SUBSCRIPTION | pull_flag::LITE_PULL,
                commit_offset: 0,
                suspend: self.config.broker_suspend_max_time,
                timeout: self.config.broker_suspend_max_time + Duration::from_secs(10),
            };
            let res = tokio::select! {
                r = pull::pull(&self.instance, req) => r,
                _ = a.seeked.notified() => continue,
                _ = stop.changed() => return,
            };
            if a.epoch.load(Ordering::SeqCst) != epoch {
                tracing::debug!(?mq, offset, "pull result of an older epoch discarded");
                continue;
            }
            if let Ok(r) = &res {
                tracing::debug!(?mq, offset, status = ?r.status, n = r.msgs.len(), next = r.next_begin_offset, "lite pull");
            }
            match res {
                Ok(r) => {
                    next = Some(r.next_begin_offset);
                    if r.status == PullStatus::Found && !r.msgs.is_empty() {
                        a.pq.put(&r.msgs);
                        let batch = Batch {
                            mq: mq.clone(),
                            epoch,
                            msgs: r.msgs,
                        };
                        tokio::select! {
                            _ = self.tx.send(batch) => {}
                            _ = stop.changed() => return,
                        }
                    } else if r.status == PullStatus::OffsetIllegal {
                        tracing::warn!(
                            ?mq,
                            offset,
                            next = r.next_begin_offset,
                            "pull offset moved"
                        );
                    }
                }
                Err(e) => {
                    tracing::debug!(?mq, error = %e, "pull failed");
                    tokio::select! {
                        _ = tokio::time::sleep(cfg.pull_time_delay_when_exception) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}
