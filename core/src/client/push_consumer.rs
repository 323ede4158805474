//! The push consumer: subscriptions, rebalance (which queues this client owns), one pull loop
//! per owned queue feeding the consume service, offsets committed every few seconds and at
//! shutdown, and orderly locks kept fresh.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::config::{check_group, check_topic, retry_topic};
use super::consume_service::ConsumePool;
use super::consumer::{
    allocate_queues, compute_pull_from_where, make_offset_store, ConsumerConfig, MessageListener,
    MessageModel,
};
use super::error::{ClientError, Result};
use super::instance::{ClientInstance, ConsumerHooks};
use super::offset_store::{OffsetStore, ReadOffsetType};
use super::process_queue::ProcessQueue;
use super::producer::{ProducerConfig, ProducerCore, CLIENT_INNER_PRODUCER_GROUP};
use super::pull::{pull, pull_flag, PullRequest, PullStatus};
use crate::protocol::bodies::{
    ConsumerData, LockBatchRequestBody, LockBatchResponseBody, MessageQueue, SubscriptionData,
};
use crate::protocol::json::from_fastjson;
use crate::protocol::message::property;
use crate::protocol::{request_code, response_code, RemotingCommand};

const CREATED: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

/// How often orderly consumers renew their broker locks.
pub const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);
/// Pause of a pull loop whose queue is over its flow-control limits.
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);

pub(crate) struct PushInner {
    pub config: ConsumerConfig,
    /// The group as sent (namespaced).
    pub group: String,
    pub instance: ClientInstance,
    pub subscriptions: Mutex<BTreeMap<String, SubscriptionData>>,
    pub listener: Mutex<Option<Arc<dyn MessageListener>>>,
    pub orderly: AtomicBool,
    pub pqs: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    pub offset_store: OffsetStore,
    /// Re-sends failed messages to `%RETRY%<group>` when CONSUMER_SEND_MSG_BACK fails.
    pub inner_producer: ProducerCore,
    pub pool: OnceLock<Arc<ConsumePool>>,
    pub runtime: OnceLock<tokio::runtime::Handle>,
    state: AtomicU8,
    paused: AtomicBool,
    resumed: Notify,
    rebalance_now: Notify,
    rebalance_lock: tokio::sync::Mutex<()>,
}

/// A push consumer. Register a listener, subscribe, start.
#[derive(Clone)]
pub struct PushConsumer {
    inner: Arc<PushInner>,
}

struct Hooks(Weak<PushInner>);

impl ConsumerHooks for Hooks {
    fn consumer_data(&self) -> ConsumerData {
        match self.0.upgrade() {
            Some(i) => i.consumer_data(),
            None => ConsumerData::default(),
        }
    }
    fn on_consumer_ids_changed(&self) {
        if let Some(i) = self.0.upgrade() {
            i.rebalance_now.notify_one();
        }
    }
    fn running_info(&self) -> serde_json::Value {
        match self.0.upgrade() {
            Some(i) => i.running_info(),
            None => serde_json::Value::Null,
        }
    }
    fn reset_offset(&self, topic: &str, offsets: HashMap<MessageQueue, i64>) {
        if let Some(i) = self.0.upgrade() {
            let topic = topic.to_string();
            tokio::spawn(async move { i.reset_offset(&topic, offsets).await });
        }
    }
}

impl PushConsumer {
    pub fn new(config: ConsumerConfig) -> Result<PushConsumer> {
        check_group(&config.group)?;
        let instance = ClientInstance::new(config.client.clone())?;
        let group = instance.config().wrap(&config.group);
        let offset_store = make_offset_store(&config, &instance, &group)?;
        let producer_config = ProducerConfig {
            client: config.client.clone(),
            group: CLIENT_INNER_PRODUCER_GROUP.into(),
            ..Default::default()
        };
        let inner_producer = ProducerCore::new(instance.clone(), producer_config);
        Ok(PushConsumer {
            inner: Arc::new(PushInner {
                config,
                group,
                instance,
                subscriptions: Mutex::new(BTreeMap::new()),
                listener: Mutex::new(None),
                orderly: AtomicBool::new(false),
                pqs: Mutex::new(HashMap::new()),
                offset_store,
                inner_producer,
                pool: OnceLock::new(),
                runtime: OnceLock::new(),
                state: AtomicU8::new(CREATED),
                paused: AtomicBool::new(false),
                resumed: Notify::new(),
                rebalance_now: Notify::new(),
                rebalance_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn client_id(&self) -> &str {
        self.inner.instance.client_id()
    }

    /// Subscribes with a tag expression: `*`, `TagA`, `TagA || TagB`.
    pub fn subscribe(&self, topic: &str, tag_expression: &str) -> Result<()> {
        self.inner.add_subscription(topic, tag_expression, "TAG")
    }

    /// Subscribes with an SQL92 expression over message properties (the broker must have
    /// `enablePropertyFilter=true`).
    pub fn subscribe_sql92(&self, topic: &str, sql: &str) -> Result<()> {
        if sql.trim().is_empty() {
            return Err(ClientError::illegal("the SQL92 expression is empty"));
        }
        self.inner.add_subscription(topic, sql, "SQL92")
    }

    pub fn unsubscribe(&self, topic: &str) {
        let t = self.inner.instance.config().wrap(topic);
        self.inner.subscriptions.lock().unwrap().remove(&t);
        self.inner.rebalance_now.notify_one();
    }

    /// Messages are consumed concurrently by `consume_thread_nums` threads.
    pub fn register_message_listener_concurrently(&self, l: impl MessageListener) {
        *self.inner.listener.lock().unwrap() = Some(Arc::new(l));
        self.inner.orderly.store(false, Ordering::SeqCst);
    }

    /// Each queue is consumed by one thread at a time, in offset order (clustering: under a
    /// broker lock).
    pub fn register_message_listener_orderly(&self, l: impl MessageListener) {
        *self.inner.listener.lock().unwrap() = Some(Arc::new(l));
        self.inner.orderly.store(true, Ordering::SeqCst);
    }

    pub async fn start(&self) -> Result<()> {
        self.inner.clone().start().await
    }

    /// Commits offsets, releases orderly locks, unregisters and closes connections, then waits
    /// (at most `ConsumerConfig::listener_shutdown_timeout`) for listener calls still running:
    /// once it returns, the listener is not called again. See `shutdown_within`.
    pub async fn shutdown(&self) {
        self.shutdown_within(self.inner.config.listener_shutdown_timeout)
            .await;
    }

    /// `shutdown`, waiting at most `timeout` for running listener calls; true if none is left
    /// running. Called from inside the listener, it waits for every consume thread but its own
    /// (the caller's call ends when it returns).
    pub async fn shutdown_within(&self, timeout: Duration) -> bool {
        self.inner.shutdown(timeout).await
    }

    /// Stops pulling (cached messages are still consumed) until `resume`.
    pub fn suspend(&self) {
        self.inner.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.resumed.notify_waiters();
    }

    /// The queues this client consumes now (topics without namespace).
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = self
            .inner
            .pqs
            .lock()
            .unwrap()
            .keys()
            .map(|q| self.inner.visible_queue(q))
            .collect();
        v.sort();
        v
    }

    /// Asks for a rebalance now (also done every `rebalance_interval` and when the broker says
    /// the group changed).
    pub fn rebalance_now(&self) {
        self.inner.rebalance_now.notify_one();
    }

    /// Commits the consumed offsets now.
    pub async fn persist_offsets(&self) -> Result<()> {
        self.inner.persist_offsets().await
    }
}

impl PushInner {
    fn add_subscription(&self, topic: &str, expr: &str, ty: &str) -> Result<()> {
        check_topic(topic)?;
        let t = self.instance.config().wrap(topic);
        let sub = SubscriptionData::new(&t, expr, ty);
        self.subscriptions.lock().unwrap().insert(t, sub);
        if self.state.load(Ordering::SeqCst) == RUNNING {
            let inst = self.instance.clone();
            tokio::spawn(async move { inst.send_heartbeat_to_all().await });
            self.rebalance_now.notify_one();
        }
        Ok(())
    }

    pub(crate) fn is_orderly(&self) -> bool {
        self.orderly.load(Ordering::SeqCst)
    }
    pub(crate) fn is_clustering(&self) -> bool {
        self.config.message_model == MessageModel::Clustering
    }
    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::SeqCst) == RUNNING
    }

    pub(crate) fn visible_queue(&self, q: &MessageQueue) -> MessageQueue {
        MessageQueue {
            topic: self.instance.config().unwrap(&q.topic),
            broker_name: q.broker_name.clone(),
            queue_id: q.queue_id,
        }
    }

    fn consumer_data(&self) -> ConsumerData {
        ConsumerData {
            group_name: self.group.clone(),
            consume_type: "CONSUME_PASSIVELY".into(),
            message_model: self.config.message_model.wire_name().into(),
            consume_from_where: self.config.consume_from_where.wire_name().into(),
            subscription_data_set: self
                .subscriptions
                .lock()
                .unwrap()
                .values()
                .cloned()
                .collect(),
            unit_mode: false,
        }
    }

    fn running_info(&self) -> serde_json::Value {
        let subs: Vec<SubscriptionData> = self
            .subscriptions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        serde_json::json!({
            "properties": {
                "consumerGroup": self.group,
                "messageModel": self.config.message_model.wire_name(),
                "consumeFromWhere": self.config.consume_from_where.wire_name(),
                "consumeOrderly": self.is_orderly().to_string(),
                "consumeType": "CONSUME_PASSIVELY",
                "PROP_CLIENT_VERSION": "V4_9_8",
                "PROP_CONSUMER_START_TIMESTAMP": crate::protocol::now_ms().to_string(),
            },
            "subscriptionSet": subs,
            "mqTable": {},
            "statusTable": {},
        })
    }

    async fn start(self: Arc<Self>) -> Result<()> {
        match self.state.load(Ordering::SeqCst) {
            RUNNING => return Ok(()),
            STOPPED => {
                return Err(ClientError::state(
                    "the consumer was shut down; create a new one",
                ))
            }
            _ => {}
        }
        if self.listener.lock().unwrap().is_none() {
            return Err(ClientError::state(
                "no message listener: call register_message_listener_concurrently or \
                 register_message_listener_orderly before start()",
            ));
        }
        if self.subscriptions.lock().unwrap().is_empty() {
            return Err(ClientError::state(
                "no subscription: call subscribe(topic, expression) before start()",
            ));
        }
        if self.config.consume_thread_nums == 0 || self.config.consume_batch_max_size == 0 {
            return Err(ClientError::illegal(
                "consume_thread_nums and consume_batch_max_size must be at least 1",
            ));
        }
        if self.is_clustering() {
            // The group is already namespaced, so this is `%RETRY%<ns>%<group>` as Java has it.
            let rt = retry_topic(&self.group);
            self.subscriptions
                .lock()
                .unwrap()
                .entry(rt.clone())
                .or_insert_with(|| SubscriptionData::new(&rt, "*", "TAG"));
        }
        let _ = self.runtime.set(tokio::runtime::Handle::current());
        let max_group = match self.listener.lock().unwrap().as_ref() {
            Some(l) if !self.is_orderly() => l.max_deliveries_per_call(),
            _ => 1,
        };
        let _ = self.pool.set(Arc::new(ConsumePool::new(
            self.config.consume_thread_nums,
            &format!("consume-{}", self.config.group),
            max_group,
        )));
        self.instance
            .register_consumer(&self.group, Arc::new(Hooks(Arc::downgrade(&self))));
        self.instance.register_producer(CLIENT_INNER_PRODUCER_GROUP);
        self.inner_producer.mark_running();
        self.instance.start().await;
        let topics: Vec<String> = self.subscriptions.lock().unwrap().keys().cloned().collect();
        for t in &topics {
            if let Err(e) = self.instance.update_route(t, false).await {
                tracing::debug!(topic = %t, error = %e, "no route yet; rebalance will retry");
            }
        }
        self.state.store(RUNNING, Ordering::SeqCst);
        self.instance.send_heartbeat_to_all().await;

        let me = self.clone();
        let mut stop = self.instance.stop_signal();
        self.instance.track(tokio::spawn(async move {
            loop {
                me.do_rebalance().await;
                tokio::select! {
                    _ = me.rebalance_now.notified() => {}
                    _ = tokio::time::sleep(me.config.rebalance_interval) => {}
                    _ = stop.changed() => return,
                }
            }
        }));
        let me = self.clone();
        let every = self.config.persist_offset_interval;
        self.instance.spawn_periodic(every, every, move || {
            let me = me.clone();
            async move {
                let _ = me.persist_offsets().await;
            }
        });
        if self.is_orderly() && self.is_clustering() {
            let me = self.clone();
            self.instance
                .spawn_periodic(LOCK_RENEW_INTERVAL, LOCK_RENEW_INTERVAL, move || {
                    let me = me.clone();
                    async move { me.lock_all().await }
                });
        }
        Ok(())
    }

    async fn shutdown(&self, listener_timeout: Duration) -> bool {
        if self.state.swap(STOPPED, Ordering::SeqCst) == RUNNING {
            self.stop().await;
        }
        self.join_consume_threads(listener_timeout).await
    }

    /// Closes the consume pool and waits for its threads, off the async threads: a listener
    /// may need the runtime (sending a message back) to finish.
    async fn join_consume_threads(&self, timeout: Duration) -> bool {
        let Some(pool) = self.pool.get().cloned() else {
            return true;
        };
        pool.close();
        // The thread polling this future: a consume thread if a listener called shutdown.
        let caller = std::thread::current().id();
        match tokio::task::spawn_blocking(move || pool.join(caller, timeout)).await {
            Ok(joined) => joined,
            Err(e) => {
                tracing::warn!(error = %e, "joining the consume threads failed");
                false
            }
        }
    }

    async fn stop(&self) {
        let all: Vec<(MessageQueue, Arc<ProcessQueue>)> =
            self.pqs.lock().unwrap().drain().collect();
        for (_, pq) in &all {
            pq.set_dropped();
        }
        let mqs: Vec<MessageQueue> = all.iter().map(|(q, _)| q.clone()).collect();
        if self.is_orderly() {
            for (_, pq) in &all {
                wait_for_listener(pq).await;
            }
        }
        if let Err(e) = self.offset_store.persist_all(&mqs).await {
            tracing::warn!(error = %e, "committing offsets at shutdown failed");
        }
        if self.is_orderly() && self.is_clustering() {
            self.unlock(&mqs).await;
        }
        self.instance.shutdown().await;
    }

    pub(crate) async fn persist_offsets(&self) -> Result<()> {
        let mqs: Vec<MessageQueue> = self.pqs.lock().unwrap().keys().cloned().collect();
        self.offset_store.persist_all(&mqs).await
    }

    async fn do_rebalance(self: &Arc<Self>) {
        let _g = self.rebalance_lock.lock().await;
        if !self.is_running() {
            return;
        }
        let topics: Vec<String> = self.subscriptions.lock().unwrap().keys().cloned().collect();
        for topic in &topics {
            match allocate_queues(&self.config, &self.instance, &self.group, topic).await {
                Ok(mine) => {
                    tracing::trace!(topic, ?mine, "allocated");
                    self.update_process_queues(topic, mine).await
                }
                Err(e) => tracing::debug!(topic, error = %e, "rebalance skipped a topic"),
            }
        }
        let stale: Vec<(MessageQueue, Arc<ProcessQueue>)> = self
            .pqs
            .lock()
            .unwrap()
            .iter()
            .filter(|(q, _)| !topics.contains(&q.topic))
            .map(|(q, p)| (q.clone(), p.clone()))
            .collect();
        for (mq, pq) in stale {
            self.remove_queue(&mq, &pq).await;
        }
    }

    async fn update_process_queues(self: &Arc<Self>, topic: &str, mine: Vec<MessageQueue>) {
        let mine: Vec<MessageQueue> = {
            let mut seen = HashSet::new();
            mine.into_iter()
                .filter(|q| seen.insert(q.clone()))
                .collect()
        };
        let current: Vec<(MessageQueue, Arc<ProcessQueue>)> = self
            .pqs
            .lock()
            .unwrap()
            .iter()
            .filter(|(q, _)| q.topic == topic)
            .map(|(q, p)| (q.clone(), p.clone()))
            .collect();
        for (mq, pq) in &current {
            if !mine.contains(mq) || pq.is_dropped() {
                self.remove_queue(mq, pq).await;
            }
        }
        let orderly_cluster = self.is_orderly() && self.is_clustering();
        for mq in mine {
            if self.pqs.lock().unwrap().contains_key(&mq) {
                continue;
            }
            if orderly_cluster && !self.lock_one(&mq).await {
                tracing::debug!(?mq, "queue still locked by another client; next rebalance");
                continue;
            }
            self.offset_store.remove(&mq);
            let offset =
                compute_pull_from_where(&self.config, &self.instance, &self.offset_store, &mq)
                    .await;
            if offset < 0 {
                tracing::debug!(?mq, "no start offset yet; next rebalance");
                continue;
            }
            let pq = Arc::new(ProcessQueue::new());
            if orderly_cluster {
                pq.set_locked(true);
            }
            self.pqs.lock().unwrap().insert(mq.clone(), pq.clone());
            tracing::debug!(?mq, offset, "queue assigned");
            let me = self.clone();
            self.instance.track(tokio::spawn(
                async move { me.pull_loop(mq, pq, offset).await },
            ));
        }
    }

    /// Gives a queue up: stop its pulls, commit its offset, release its orderly lock.
    async fn remove_queue(&self, mq: &MessageQueue, pq: &Arc<ProcessQueue>) {
        pq.set_dropped();
        {
            let mut m = self.pqs.lock().unwrap();
            if m.get(mq).is_some_and(|p| Arc::ptr_eq(p, pq)) {
                m.remove(mq);
            }
        }
        let orderly_cluster = self.is_orderly() && self.is_clustering();
        // A running orderly listener commits what it consumed before it lets the lock go; only
        // then is the offset final. A dropped queue starts no new listener.
        let idle = !orderly_cluster || wait_for_listener(pq).await;
        if let Err(e) = self.offset_store.persist(mq).await {
            tracing::debug!(?mq, error = %e, "committing a released queue's offset failed");
        }
        self.offset_store.remove(mq);
        if orderly_cluster {
            if idle {
                self.unlock(std::slice::from_ref(mq)).await;
            } else {
                // Still consuming: keep the broker's lock until it expires rather than let
                // another client consume the queue at the same time.
                tracing::warn!(
                    ?mq,
                    "listener still running; the queue lock is left to expire"
                );
            }
        }
        tracing::debug!(?mq, "queue released");
    }

    async fn pull_loop(self: Arc<Self>, mq: MessageQueue, pq: Arc<ProcessQueue>, mut offset: i64) {
        let mut stop = self.instance.stop_signal();
        let size_limit = self.config.pull_threshold_size_for_queue_mib * 1024 * 1024;
        loop {
            if pq.is_dropped() || !self.is_running() {
                return;
            }
            if self.paused.load(Ordering::SeqCst) {
                let woke = self.resumed.notified();
                tokio::select! {
                    _ = woke => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
            let over_limit = pq.cached_count() > self.config.pull_threshold_for_queue
                || pq.cached_bytes() > size_limit
                || (!self.is_orderly() && pq.span() > self.config.consume_concurrently_max_span);
            if over_limit {
                tokio::time::sleep(FLOW_CONTROL_PAUSE).await;
                continue;
            }
            if self.is_orderly() && self.is_clustering() && !pq.is_locked() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let sub = match self.subscriptions.lock().unwrap().get(&mq.topic) {
                Some(s) => s.clone(),
                None => return,
            };
            let mut sys_flag = pull_flag::SUSPEND;
            let mut commit_offset = 0;
            if self.is_clustering() {
                let o = self.offset_store.read(&mq, ReadOffsetType::Memory).await;
                if o > 0 {
                    commit_offset = o;
                    sys_flag |= pull_flag::COMMIT_OFFSET;
                }
            }
            if self.config.post_subscription_when_pull {
                sys_flag |= pull_flag::SUBSCRIPTION;
            }
            let req = PullRequest {
                group: &self.group,
                mq: &mq,
                subscription: &sub,
                offset,
                max_nums: self.config.pull_batch_size,
                sys_flag,
                commit_offset,
                suspend: self.config.broker_suspend_max_time,
                timeout: self.config.consumer_timeout_when_suspend,
            };
            let res = tokio::select! {
                r = pull(&self.instance, req) => r,
                _ = stop.changed() => return,
            };
            if pq.is_dropped() {
                // Released (rebalance, reset) while the pull was parked: its result and its
                // offsets belong to whoever owns the queue now.
                return;
            }
            match res {
                Ok(r) => match r.status {
                    PullStatus::Found => {
                        offset = r.next_begin_offset;
                        if r.msgs.is_empty() {
                            continue;
                        }
                        let msgs = self.prepare_for_delivery(r.msgs);
                        self.dispatch(&mq, &pq, msgs);
                    }
                    PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                        offset = r.next_begin_offset;
                        if pq.cached_count() == 0 {
                            // Nothing in flight: filtered-out messages must not hold the
                            // committed offset back.
                            self.offset_store.update(&mq, offset, true);
                        }
                    }
                    PullStatus::OffsetIllegal => {
                        tracing::warn!(
                            ?mq,
                            offset,
                            next = r.next_begin_offset,
                            "pull offset moved"
                        );
                        pq.set_dropped();
                        self.offset_store.update(&mq, r.next_begin_offset, false);
                        let _ = self.offset_store.persist(&mq).await;
                        {
                            let mut m = self.pqs.lock().unwrap();
                            if m.get(&mq).is_some_and(|p| Arc::ptr_eq(p, &pq)) {
                                m.remove(&mq);
                            }
                        }
                        // The next rebalance takes the queue again from the corrected offset.
                        self.rebalance_now.notify_one();
                        return;
                    }
                },
                Err(e) => {
                    tracing::debug!(?mq, error = %e, "pull failed");
                    let pause = match &e {
                        ClientError::Broker {
                            code: response_code::FLOW_CONTROL,
                            ..
                        } => Duration::from_millis(20),
                        _ => self.config.pull_time_delay_when_exception,
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }

    /// Restores the original topic of retried messages and strips the namespace.
    fn prepare_for_delivery(
        &self,
        mut msgs: Vec<super::message::MessageExt>,
    ) -> Vec<super::message::MessageExt> {
        let retry = retry_topic(&self.group);
        for m in &mut msgs {
            if m.topic == retry {
                if let Some(t) = m.property(property::RETRY_TOPIC) {
                    m.topic = t.to_string();
                }
            }
            m.topic = self.instance.config().unwrap(&m.topic);
        }
        msgs
    }

    fn lock_body(&self, mqs: &[MessageQueue]) -> Vec<u8> {
        serde_json::to_vec(&LockBatchRequestBody {
            consumer_group: self.group.clone(),
            client_id: self.instance.client_id().to_string(),
            mq_set: mqs.to_vec(),
        })
        .unwrap_or_default()
    }

    /// LOCK_BATCH_MQ on the queues' broker master; returns the queues now held.
    async fn lock_batch(
        &self,
        broker: &str,
        mqs: &[MessageQueue],
    ) -> Result<HashSet<MessageQueue>> {
        let topic = mqs.first().map(|q| q.topic.clone()).unwrap_or_default();
        let addr = self.instance.master_addr(broker, &topic).await?;
        let cmd =
            RemotingCommand::request(request_code::LOCK_BATCH_MQ).with_body(self.lock_body(mqs));
        let resp = self
            .instance
            .invoke(&addr, cmd, self.instance.request_timeout())
            .await?;
        if resp.code != response_code::SUCCESS {
            return Err(ClientError::broker(
                resp.code,
                resp.remark.as_deref(),
                &addr,
            ));
        }
        let body: LockBatchResponseBody = from_fastjson(&resp.body)
            .map_err(|e| ClientError::broker(1, Some(&format!("bad lock answer: {e}")), &addr))?;
        Ok(body.lock_ok_mq_set.into_iter().collect())
    }

    pub(crate) async fn lock_one(&self, mq: &MessageQueue) -> bool {
        match self
            .lock_batch(&mq.broker_name, std::slice::from_ref(mq))
            .await
        {
            Ok(set) => {
                let ok = set.contains(mq);
                if let Some(pq) = self.pqs.lock().unwrap().get(mq) {
                    pq.set_locked(ok);
                }
                ok
            }
            Err(e) => {
                tracing::debug!(?mq, error = %e, "locking a queue failed");
                false
            }
        }
    }

    /// Renews the locks of every owned queue (orderly clustering).
    async fn lock_all(&self) {
        let by_broker = self.queues_by_broker();
        for (broker, mqs) in by_broker {
            match self.lock_batch(&broker, &mqs).await {
                Ok(set) => {
                    let pqs = self.pqs.lock().unwrap();
                    for mq in &mqs {
                        if let Some(pq) = pqs.get(mq) {
                            pq.set_locked(set.contains(mq));
                        }
                    }
                }
                Err(e) => tracing::debug!(broker, error = %e, "renewing queue locks failed"),
            }
        }
    }

    fn queues_by_broker(&self) -> HashMap<String, Vec<MessageQueue>> {
        let mut by_broker: HashMap<String, Vec<MessageQueue>> = HashMap::new();
        for mq in self.pqs.lock().unwrap().keys() {
            by_broker
                .entry(mq.broker_name.clone())
                .or_default()
                .push(mq.clone());
        }
        by_broker
    }

    async fn unlock(&self, mqs: &[MessageQueue]) {
        let mut by_broker: HashMap<String, Vec<MessageQueue>> = HashMap::new();
        for mq in mqs {
            by_broker
                .entry(mq.broker_name.clone())
                .or_default()
                .push(mq.clone());
        }
        for (broker, mqs) in by_broker {
            let topic = mqs[0].topic.clone();
            let Ok(addr) = self.instance.master_addr(&broker, &topic).await else {
                continue;
            };
            let cmd = RemotingCommand::request(request_code::UNLOCK_BATCH_MQ)
                .with_body(self.lock_body(&mqs));
            if let Err(e) = self
                .instance
                .invoke(&addr, cmd, Duration::from_secs(1))
                .await
            {
                tracing::debug!(broker, error = %e, "unlocking queues failed");
            }
        }
    }

    /// RESET_CONSUMER_CLIENT_OFFSET: restart the topic's queues from the given offsets.
    async fn reset_offset(self: &Arc<Self>, topic: &str, offsets: HashMap<MessageQueue, i64>) {
        let _g = self.rebalance_lock.lock().await;
        for (mq, off) in offsets.iter().filter(|(q, _)| q.topic == topic) {
            let pq = self.pqs.lock().unwrap().remove(mq);
            if let Some(pq) = pq {
                pq.set_dropped();
            }
            self.offset_store.update(mq, *off, false);
            let _ = self.offset_store.persist(mq).await;
            self.offset_store.remove(mq);
        }
        drop(_g);
        self.rebalance_now.notify_one();
    }
}

/// Waits (up to a few seconds) until no orderly listener runs on a dropped queue; true when idle.
async fn wait_for_listener(pq: &ProcessQueue) -> bool {
    for _ in 0..100 {
        if pq.consume_lock.try_lock().is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    false
}
