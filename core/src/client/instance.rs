//! `ClientInstance`: what one producer or consumer shares with the cluster — connections, the
//! route cache, heartbeats, route refresh, and the handler for requests brokers send to clients.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::acl;
use super::config::ClientConfig;
use super::error::{ClientError, Result};
use super::message::MessageExt;
use super::offset_store::parse_offset_table;
use super::request_reply::{reply_from_push, RequestFutures};
use super::route::{RouteCache, TopicRoute};
use crate::protocol::bodies::{
    ConsumerData, HeartbeatData, MessageQueue, ProducerData, TopicRouteData,
};
use crate::protocol::json::from_fastjson;
use crate::protocol::message::MessageRecord;
use crate::protocol::{request_code, response_code, RemotingCommand};
use crate::remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};

/// The auto-creation template topic.
pub const AUTO_CREATE_TOPIC: &str = "TBW102";

/// What the instance needs from a consumer it serves.
pub(crate) trait ConsumerHooks: Send + Sync {
    fn consumer_data(&self) -> ConsumerData;
    /// NOTIFY_CONSUMER_IDS_CHANGED: rebalance now.
    fn on_consumer_ids_changed(&self);
    /// GET_CONSUMER_RUNNING_INFO body.
    fn running_info(&self) -> serde_json::Value;
    /// RESET_CONSUMER_CLIENT_OFFSET for one topic.
    fn reset_offset(&self, topic: &str, offsets: HashMap<MessageQueue, i64>);
}

/// The header of a CHECK_TRANSACTION_STATE request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCheck {
    pub tran_state_table_offset: i64,
    pub commit_log_offset: i64,
    pub msg_id: Option<String>,
    pub transaction_id: Option<String>,
    pub offset_msg_id: Option<String>,
}

/// What the instance needs from a transaction producer. The instance is passed in, not kept
/// by the hooks: the instance owns them, and a hook holding it back would be a cycle that
/// never frees either.
pub(crate) trait TransactionHooks: Send + Sync {
    fn check(
        &self,
        instance: &ClientInstance,
        channel: Channel,
        check: TransactionCheck,
        msg: MessageExt,
    );
}

pub(crate) struct InstanceInner {
    pub config: ClientConfig,
    pub client_id: String,
    pub remoting: RemotingClient,
    pub routes: RouteCache,
    namesrvs: Vec<String>,
    namesrv_index: AtomicUsize,
    producer_groups: Mutex<HashSet<String>>,
    /// Topics a producer uses: their route may come from the auto-creation template.
    producer_topics: Mutex<HashSet<String>>,
    consumers: Mutex<HashMap<String, Arc<dyn ConsumerHooks>>>,
    transaction: Mutex<Option<Arc<dyn TransactionHooks>>>,
    /// Requests waiting for their replies (PUSH_REPLY_MESSAGE_TO_CLIENT), by correlation id.
    pub(crate) requests: RequestFutures,
    /// Brokers that have answered a heartbeat of ours: a requester must be known to the broker
    /// its reply passes through, or the reply cannot be pushed back.
    heartbeat_seen: Mutex<HashSet<String>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    started: AtomicBool,
    stop_tx: watch::Sender<bool>,
    /// Set once shutdown has unregistered: no request (and so no new connection) after that,
    /// or a late heartbeat could register a ghost client on a connection nobody closes.
    closed: AtomicBool,
    /// Held while a heartbeat is out; shutdown waits on it so that no heartbeat can reach a
    /// broker after (and undo) the unregistration.
    heartbeat_lock: tokio::sync::Mutex<()>,
}

/// A cheap handle on one client's shared machinery.
#[derive(Clone)]
pub struct ClientInstance {
    pub(crate) inner: Arc<InstanceInner>,
}

struct InstanceHandler {
    instance: OnceLock<Weak<InstanceInner>>,
}

impl ClientInstance {
    pub fn new(config: ClientConfig) -> Result<ClientInstance> {
        let namesrvs = config.namesrv_list()?;
        let instance_name = config.effective_instance_name();
        let client_id = config.build_client_id(&instance_name);
        let handler = Arc::new(InstanceHandler {
            instance: OnceLock::new(),
        });
        let remoting = RemotingClient::new(handler.clone());
        let (stop_tx, _) = watch::channel(false);
        let inner = Arc::new(InstanceInner {
            config,
            client_id,
            remoting,
            routes: RouteCache::default(),
            namesrvs,
            namesrv_index: AtomicUsize::new(super::config::random_u64() as usize),
            producer_groups: Mutex::new(HashSet::new()),
            producer_topics: Mutex::new(HashSet::new()),
            consumers: Mutex::new(HashMap::new()),
            transaction: Mutex::new(None),
            requests: RequestFutures::default(),
            heartbeat_seen: Mutex::new(HashSet::new()),
            tasks: Mutex::new(Vec::new()),
            started: AtomicBool::new(false),
            stop_tx,
            closed: AtomicBool::new(false),
            heartbeat_lock: tokio::sync::Mutex::new(()),
        });
        let _ = handler.instance.set(Arc::downgrade(&inner));
        Ok(ClientInstance { inner })
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }
    pub fn routes(&self) -> &RouteCache {
        &self.inner.routes
    }
    pub fn request_timeout(&self) -> Duration {
        self.inner.config.request_timeout
    }

    pub(crate) fn register_producer(&self, group: &str) {
        self.inner
            .producer_groups
            .lock()
            .unwrap()
            .insert(group.to_string());
    }
    pub(crate) fn register_consumer(&self, group: &str, hooks: Arc<dyn ConsumerHooks>) {
        self.inner
            .consumers
            .lock()
            .unwrap()
            .insert(group.to_string(), hooks);
    }
    pub(crate) fn set_transaction_hooks(&self, hooks: Arc<dyn TransactionHooks>) {
        *self.inner.transaction.lock().unwrap() = Some(hooks);
    }

    /// Starts the periodic route refresh and heartbeat. Idempotent.
    pub async fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        let route_every = self.inner.config.route_refresh_interval;
        self.spawn_periodic(route_every, route_every, move || {
            let me = me.clone();
            async move { me.refresh_all_routes().await }
        });
        let me = self.clone();
        let hb_every = self.inner.config.heartbeat_interval;
        self.spawn_periodic(Duration::from_secs(1), hb_every, move || {
            let me = me.clone();
            async move { me.send_heartbeat_to_all().await }
        });
    }

    /// A watch that turns true when the instance shuts down.
    pub(crate) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.inner.stop_tx.subscribe()
    }

    /// Runs `f` every `every` (first after `first`) until shutdown.
    pub(crate) fn spawn_periodic<F, Fut>(&self, first: Duration, every: Duration, f: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut stop = self.stop_signal();
        let h = tokio::spawn(async move {
            let mut wait = first;
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                f().await;
                wait = every;
            }
        });
        self.track(h);
    }

    /// Keeps a task so that shutdown can stop it.
    pub(crate) fn track(&self, h: JoinHandle<()>) {
        let mut t = self.inner.tasks.lock().unwrap();
        t.retain(|h| !h.is_finished());
        t.push(h);
    }

    /// Stops the background tasks, unregisters from every broker and closes connections.
    pub async fn shutdown(&self) {
        if self.inner.stop_tx.send_replace(true) {
            return;
        }
        // New heartbeats now return at once; wait for one already out to be answered.
        let hb_guard = self.inner.heartbeat_lock.lock().await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks.lock().unwrap());
        for t in tasks {
            t.abort();
        }
        self.unregister_all().await;
        self.inner.closed.store(true, Ordering::SeqCst);
        // Requests still waiting for replies fail now rather than at their timeout.
        self.inner.requests.clear();
        drop(hb_guard);
        self.inner.remoting.close_all().await;
    }

    async fn unregister_all(&self) {
        let producers: Vec<String> = self
            .inner
            .producer_groups
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        let consumers: Vec<String> = self
            .inner
            .consumers
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for (_, addr) in self.inner.routes.all_broker_addrs(false) {
            for g in &producers {
                let cmd = RemotingCommand::request(request_code::UNREGISTER_CLIENT)
                    .with_ext("clientID", &self.inner.client_id)
                    .with_ext("producerGroup", g);
                let _ = self.invoke(&addr, cmd, self.request_timeout()).await;
            }
            for g in &consumers {
                let cmd = RemotingCommand::request(request_code::UNREGISTER_CLIENT)
                    .with_ext("clientID", &self.inner.client_id)
                    .with_ext("consumerGroup", g);
                let _ = self.invoke(&addr, cmd, self.request_timeout()).await;
            }
        }
    }

    fn prepare(&self, cmd: &mut RemotingCommand) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(ClientError::state(
                "the client was shut down; create a new producer or consumer",
            ));
        }
        if let Some(c) = &self.inner.config.credentials {
            acl::sign(c, cmd);
        }
        Ok(())
    }

    /// Sends a request (signed when credentials are set) and waits for the response.
    pub async fn invoke(
        &self,
        addr: &str,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        self.prepare(&mut cmd)?;
        Ok(self.inner.remoting.invoke(addr, cmd, timeout).await?)
    }

    pub async fn invoke_oneway(&self, addr: &str, mut cmd: RemotingCommand) -> Result<()> {
        self.prepare(&mut cmd)?;
        Ok(self.inner.remoting.invoke_oneway(addr, cmd).await?)
    }

    /// A oneway request on an existing channel (answers to broker-initiated requests).
    pub(crate) async fn oneway_on(&self, ch: &Channel, mut cmd: RemotingCommand) -> Result<()> {
        self.prepare(&mut cmd)?;
        Ok(ch.invoke_oneway(cmd).await?)
    }

    /// Asks the name servers (one after another on failure) for a topic's route.
    pub async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData> {
        let n = self.inner.namesrvs.len();
        let start = self.inner.namesrv_index.load(Ordering::Relaxed);
        let mut last_err = None;
        for i in 0..n {
            let addr = &self.inner.namesrvs[(start + i) % n];
            let cmd = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC)
                .with_ext("topic", topic)
                .with_ext("acceptStandardJsonOnly", "true");
            match self.invoke(addr, cmd, self.request_timeout()).await {
                Ok(resp) => {
                    return match resp.code {
                        response_code::SUCCESS => from_fastjson(&resp.body).map_err(|e| {
                            ClientError::broker(
                                response_code::SYSTEM_ERROR,
                                Some(&format!("unparsable route data: {e}")),
                                addr,
                            )
                        }),
                        response_code::TOPIC_NOT_EXIST => Err(ClientError::RouteNotFound {
                            topic: topic.to_string(),
                            detail: format!(
                                "name server {addr}: {}",
                                resp.remark.as_deref().unwrap_or("topic not exist")
                            ),
                        }),
                        code => Err(ClientError::broker(code, resp.remark.as_deref(), addr)),
                    };
                }
                Err(e) => {
                    // Try the next name server, and start there next time.
                    self.inner
                        .namesrv_index
                        .store((start + i + 1) % n, Ordering::Relaxed);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::state("no name server configured")))
    }

    /// Fetches and caches a topic's route; for producers falls back to the TBW102 template when
    /// the topic does not exist yet (the broker then creates it on first send).
    pub async fn update_route(
        &self,
        topic: &str,
        producer_fallback: bool,
    ) -> Result<Arc<TopicRoute>> {
        let known_before = self.inner.routes.all_broker_addrs(false).len();
        if producer_fallback {
            self.inner
                .producer_topics
                .lock()
                .unwrap()
                .insert(topic.to_string());
        }
        let route = match self.fetch_route(topic).await {
            Ok(data) => TopicRoute::new(topic, data),
            Err(ClientError::RouteNotFound { .. }) if producer_fallback => {
                let template = self.fetch_route(AUTO_CREATE_TOPIC).await.map_err(|_| {
                    ClientError::RouteNotFound {
                        topic: topic.to_string(),
                        detail: "the name server knows neither the topic nor the \
                                 auto-creation template TBW102"
                            .into(),
                    }
                })?;
                TopicRoute::from_template(
                    topic,
                    template,
                    super::producer::DEFAULT_TOPIC_QUEUE_NUMS,
                )
            }
            Err(e) => return Err(e),
        };
        self.inner.routes.put(topic, route);
        if self.inner.routes.all_broker_addrs(false).len() > known_before {
            // A broker we have not greeted yet: register our groups with it now, so that it can
            // call us back (transaction checks, consumer id changes) without a 30 s wait.
            let me = self.clone();
            self.track(tokio::spawn(
                async move { me.send_heartbeat_to_all().await },
            ));
        }
        Ok(self.inner.routes.get(topic).expect("route just stored"))
    }

    /// The cached route, fetched on first use.
    pub async fn route(&self, topic: &str, producer_fallback: bool) -> Result<Arc<TopicRoute>> {
        match self.inner.routes.get(topic) {
            Some(r) => Ok(r),
            None => self.update_route(topic, producer_fallback).await,
        }
    }

    async fn refresh_all_routes(&self) {
        for topic in self.inner.routes.topics() {
            let is_producer_topic = self.inner.producer_topics.lock().unwrap().contains(&topic);
            if let Err(e) = self.update_route(&topic, is_producer_topic).await {
                tracing::debug!(topic, error = %e, "route refresh failed");
            }
        }
    }

    fn heartbeat_data(&self) -> HeartbeatData {
        let producer_data_set = self
            .inner
            .producer_groups
            .lock()
            .unwrap()
            .iter()
            .map(|g| ProducerData {
                group_name: g.clone(),
            })
            .collect();
        let consumers: Vec<Arc<dyn ConsumerHooks>> = self
            .inner
            .consumers
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        HeartbeatData {
            client_id: self.inner.client_id.clone(),
            producer_data_set,
            consumer_data_set: consumers.iter().map(|c| c.consumer_data()).collect(),
        }
    }

    /// HEART_BEAT to every known broker (masters only when we only produce).
    pub async fn send_heartbeat_to_all(&self) {
        let _out = self.inner.heartbeat_lock.lock().await;
        if *self.inner.stop_tx.borrow() {
            return;
        }
        let hb = self.heartbeat_data();
        if hb.producer_data_set.is_empty() && hb.consumer_data_set.is_empty() {
            return;
        }
        let body = match serde_json::to_vec(&hb) {
            Ok(b) => bytes::Bytes::from(b),
            Err(_) => return,
        };
        let masters_only = hb.consumer_data_set.is_empty();
        let addrs = self.inner.routes.all_broker_addrs(masters_only);
        let calls = addrs.into_iter().map(|(_, addr)| {
            let cmd = RemotingCommand::request(request_code::HEART_BEAT).with_body(body.clone());
            let me = self.clone();
            async move {
                match me.invoke(&addr, cmd, me.request_timeout()).await {
                    Ok(r) if r.code == response_code::SUCCESS => {
                        me.inner.heartbeat_seen.lock().unwrap().insert(addr);
                    }
                    Ok(r) => {
                        tracing::debug!(addr, code = r.code, remark = ?r.remark, "heartbeat refused")
                    }
                    Err(e) => tracing::debug!(addr, error = %e, "heartbeat failed"),
                }
            }
        });
        futures_join_all(calls).await;
    }

    /// Sends a heartbeat now unless every master of `route` has already answered one: what
    /// a request needs before its reply can be pushed back to this client.
    pub(crate) async fn ensure_heartbeat(&self, route: &TopicRoute) {
        let missing = {
            let seen = self.inner.heartbeat_seen.lock().unwrap();
            route
                .publish_queues
                .iter()
                .filter_map(|q| self.inner.routes.master_addr(&q.broker_name))
                .any(|addr| !seen.contains(&addr))
        };
        if missing {
            self.send_heartbeat_to_all().await;
        }
    }

    /// GET_CONSUMER_LIST_BY_GROUP from a broker of the topic (the next one if it fails).
    pub async fn consumer_ids(&self, topic: &str, group: &str) -> Result<Vec<String>> {
        let route = self.route(topic, false).await?;
        let mut brokers: Vec<String> = route
            .data
            .broker_datas
            .iter()
            .map(|b| b.broker_name.clone())
            .collect();
        brokers.sort();
        // Spread the load over the brokers, as Java picks one at random.
        if !brokers.is_empty() {
            let start = super::config::random_u64() as usize % brokers.len();
            brokers.rotate_left(start);
        }
        let mut last_err = ClientError::RouteNotFound {
            topic: topic.into(),
            detail: "the route lists no broker".into(),
        };
        for broker in brokers {
            let Some(addr) = self.inner.routes.any_addr(&broker) else {
                continue;
            };
            let cmd = RemotingCommand::request(request_code::GET_CONSUMER_LIST_BY_GROUP)
                .with_ext("consumerGroup", group);
            match self.invoke(&addr, cmd, self.request_timeout()).await {
                Ok(resp) if resp.code == response_code::SUCCESS => {
                    let body: crate::protocol::bodies::ConsumerListBody = from_fastjson(&resp.body)
                        .map_err(|e| {
                            ClientError::broker(1, Some(&format!("bad consumer list: {e}")), &addr)
                        })?;
                    return Ok(body.consumer_id_list);
                }
                Ok(resp) => {
                    last_err = ClientError::broker(resp.code, resp.remark.as_deref(), &addr)
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// The master address of `broker_name`, refreshing `topic`'s route once if unknown.
    pub async fn master_addr(&self, broker_name: &str, topic: &str) -> Result<String> {
        if let Some(a) = self.inner.routes.master_addr(broker_name) {
            return Ok(a);
        }
        let _ = self.update_route(topic, false).await;
        self.inner.routes.master_addr(broker_name).ok_or_else(|| {
            ClientError::state(format!(
                "broker {broker_name} has no master address in the route of {topic}; \
                 is its master running?"
            ))
        })
    }

    /// Broker address for reads: master if known, else a slave.
    pub async fn read_addr(&self, broker_name: &str, topic: &str) -> Result<String> {
        if let Some(a) = self.inner.routes.any_addr(broker_name) {
            return Ok(a);
        }
        let _ = self.update_route(topic, false).await;
        self.inner.routes.any_addr(broker_name).ok_or_else(|| {
            ClientError::state(format!(
                "broker {broker_name} has no address in the route of {topic}"
            ))
        })
    }

    fn handle_request(&self, ch: Channel, req: RemotingCommand) -> Option<RemotingCommand> {
        match req.code {
            request_code::CHECK_TRANSACTION_STATE => {
                let hooks = self.inner.transaction.lock().unwrap().clone();
                match (hooks, MessageRecord::decode(&req.body, false)) {
                    (Some(h), Ok((rec, _))) => {
                        let broker = self
                            .inner
                            .routes
                            .broker_name_of(&ch.remote_addr().to_string())
                            .unwrap_or_default();
                        if let Ok(msg) = MessageExt::from_record(rec, &broker) {
                            let check = TransactionCheck {
                                tran_state_table_offset: req
                                    .ext_i64_or("tranStateTableOffset", 0)
                                    .unwrap_or(0),
                                commit_log_offset: req
                                    .ext_i64_or("commitLogOffset", 0)
                                    .unwrap_or(0),
                                msg_id: req.ext("msgId").map(str::to_string),
                                transaction_id: req.ext("transactionId").map(str::to_string),
                                offset_msg_id: req.ext("offsetMsgId").map(str::to_string),
                            };
                            h.check(self, ch, check, msg);
                        }
                    }
                    (None, _) => tracing::warn!("transaction check for a client with no checker"),
                    (_, Err(e)) => tracing::warn!(error = %e, "undecodable transaction check body"),
                }
                None
            }
            request_code::PUSH_REPLY_MESSAGE_TO_CLIENT => {
                let broker = self
                    .inner
                    .routes
                    .broker_name_of(&ch.remote_addr().to_string())
                    .unwrap_or_default();
                match reply_from_push(&req, &broker) {
                    Ok(reply) => {
                        let id = reply
                            .property(crate::protocol::message::property::CORRELATION_ID)
                            .unwrap_or_default()
                            .to_string();
                        if !self.inner.requests.complete(reply) {
                            tracing::warn!(
                                correlation_id = %id,
                                "a reply arrived for no waiting request (it timed out?)"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable reply push"),
                }
                // As RocketMQ's clients: the push was received, whether or not anyone waited.
                Some(RemotingCommand::response_to(
                    &req,
                    response_code::SUCCESS,
                    None,
                ))
            }
            request_code::NOTIFY_CONSUMER_IDS_CHANGED => {
                let group = req.ext("consumerGroup").unwrap_or_default().to_string();
                let c = self.inner.consumers.lock().unwrap().get(&group).cloned();
                if let Some(c) = c {
                    c.on_consumer_ids_changed();
                }
                None
            }
            request_code::GET_CONSUMER_RUNNING_INFO => {
                let group = req.ext("consumerGroup").unwrap_or_default().to_string();
                let c = self.inner.consumers.lock().unwrap().get(&group).cloned();
                Some(match c {
                    Some(c) => RemotingCommand::response_to(&req, response_code::SUCCESS, None)
                        .with_body(serde_json::to_vec(&c.running_info()).unwrap_or_default()),
                    None => RemotingCommand::response_to(
                        &req,
                        response_code::SYSTEM_ERROR,
                        Some(format!(
                            "The Consumer Group <{group}> not exist in this consumer"
                        )),
                    ),
                })
            }
            request_code::RESET_CONSUMER_CLIENT_OFFSET => {
                let group = req.ext("group").unwrap_or_default().to_string();
                let topic = req.ext("topic").unwrap_or_default().to_string();
                let c = self.inner.consumers.lock().unwrap().get(&group).cloned();
                if let Some(c) = c {
                    match parse_offset_table(&req.body) {
                        Ok(table) => c.reset_offset(&topic, table),
                        Err(e) => tracing::warn!(error = %e, "unparsable reset offset body"),
                    }
                }
                Some(RemotingCommand::response_to(
                    &req,
                    response_code::SUCCESS,
                    None,
                ))
            }
            _ => Some(Channel::not_supported(&req)),
        }
    }
}

impl RequestHandler for InstanceHandler {
    fn handle(
        &self,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let inst = self.instance.get().and_then(Weak::upgrade);
        Box::pin(async move {
            match inst {
                Some(inner) => ClientInstance { inner }.handle_request(channel, request),
                None => Some(Channel::not_supported(&request)),
            }
        })
    }
}

/// Runs futures concurrently and waits for all (no `futures` crate in our dependencies).
pub(crate) async fn futures_join_all<I, F>(futs: I)
where
    I: IntoIterator<Item = F>,
    F: Future<Output = ()> + Send + 'static,
{
    let handles: Vec<JoinHandle<()>> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}
