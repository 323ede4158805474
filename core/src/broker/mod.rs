//! The broker: serves producers and consumers over remoting, on top of the message store.
//! One processor per request family lives under `processor/`.

pub mod client_manager;
pub mod config;
pub mod consumer_offset;
pub mod long_poll;
mod processor;
pub mod queue_lock;
pub mod schedule;
pub mod sql_filter;
pub mod subscription_group;
pub mod timer;
pub mod topic_config;
pub mod transaction;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::bodies::RegisterBrokerBody;
use crate::protocol::{request_code, response_code, RemotingCommand};
use crate::remoting::{
    BoxFuture, Channel, RemotingClient, RemotingServer, RequestHandler, ServerHandle,
};
use crate::store::MessageStore;

pub use config::BrokerConfig;

use client_manager::ClientManager;
use consumer_offset::ConsumerOffsetManager;
use long_poll::PullHoldService;
use queue_lock::QueueLockManager;
use subscription_group::SubscriptionGroupManager;
use topic_config::TopicConfigManager;

/// How long a broker waits for a name server to answer a registration.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(6);
/// How often silent clients are looked for.
const CLIENT_SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Shared state of a running broker.
pub struct BrokerInner {
    pub config: BrokerConfig,
    pub store: Arc<MessageStore>,
    pub topics: TopicConfigManager,
    pub groups: SubscriptionGroupManager,
    pub offsets: ConsumerOffsetManager,
    pub clients: ClientManager,
    pub pulls: PullHoldService,
    pub locks: QueueLockManager,
    pub schedule: schedule::ScheduleService,
    pub transactions: transaction::TransactionService,
    pub timer: timer::TimerService,
    pub namesrv_client: RemotingClient,
    /// brokerIP1 + listen port: registered with name servers, written as store host.
    pub store_host: SocketAddr,
    pub runtime: tokio::runtime::Handle,
    register_now: tokio::sync::Notify,
}

impl BrokerInner {
    pub fn broker_addr(&self) -> String {
        self.store_host.to_string()
    }

    pub fn is_master(&self) -> bool {
        self.config.broker_id == 0 && self.config.broker_role != "SLAVE"
    }

    /// Ask the registration task to register with the name servers now (topics changed).
    pub fn register_soon(&self) {
        self.register_now.notify_one();
    }

    fn namesrv_addrs(&self) -> Vec<String> {
        self.config
            .namesrv_addr
            .as_deref()
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn register_request(&self, unregister: bool) -> RemotingCommand {
        let code = if unregister {
            request_code::UNREGISTER_BROKER
        } else {
            request_code::REGISTER_BROKER
        };
        let mut cmd = RemotingCommand::request(code)
            .with_ext("brokerName", &self.config.broker_name)
            .with_ext("brokerAddr", self.broker_addr())
            .with_ext("clusterName", &self.config.cluster_name)
            .with_ext("brokerId", self.config.broker_id);
        if !unregister {
            let body = RegisterBrokerBody {
                topic_config_serialize_wrapper: self.topics.all(),
                filter_server_list: vec![],
            };
            let body = serde_json::to_vec(&body).expect("register body serializes");
            let ha = SocketAddr::new(self.store_host.ip(), self.store_host.port().wrapping_add(1));
            cmd = cmd
                .with_ext("haServerAddr", ha)
                .with_ext("compressed", false)
                .with_ext("bodyCrc32", crate::protocol::message::body_crc(&body))
                .with_body(body);
        }
        cmd
    }

    /// Registers with every configured name server, in parallel.
    pub async fn register_all(&self) {
        let futs = self.namesrv_addrs().into_iter().map(|addr| {
            let cmd = self.register_request(false);
            async move {
                match self.namesrv_client.invoke(&addr, cmd, REGISTER_TIMEOUT).await {
                    Ok(r) if r.code == response_code::SUCCESS => {}
                    Ok(r) => tracing::warn!(namesrv = %addr, code = r.code, remark = ?r.remark, "registration refused"),
                    Err(e) => tracing::warn!(namesrv = %addr, error = %e, "registration failed"),
                }
            }
        });
        futures_join_all(futs).await;
    }

    async fn unregister_all(&self) {
        for addr in self.namesrv_addrs() {
            let cmd = self.register_request(true);
            let _ = self
                .namesrv_client
                .invoke(&addr, cmd, Duration::from_secs(3))
                .await;
        }
    }

    /// Tells every consumer of a group to rebalance now.
    pub fn notify_consumer_ids_changed(&self, group: &str, channels: Vec<Channel>) {
        let notify_enabled = self
            .groups
            .get(group)
            .map(|g| g.notify_consumer_ids_changed_enable)
            .unwrap_or(true);
        if !notify_enabled {
            return;
        }
        for ch in channels {
            let cmd = RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_ext("consumerGroup", group);
            self.runtime.spawn(async move {
                let _ = ch.invoke_oneway(cmd).await;
            });
        }
    }
}

async fn futures_join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    // A tiny join_all: registrations are few (one per name server).
    let handles: Vec<_> = futs.map(Box::pin).collect();
    for h in handles {
        h.await;
    }
}

/// The request handler the remoting server calls.
struct Handler(Arc<BrokerInner>);

impl RequestHandler for Handler {
    fn handle(
        &self,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        let inner = self.0.clone();
        Box::pin(async move { processor::dispatch(&inner, channel, request).await })
    }

    fn on_close(&self, channel: &Channel) {
        for change in self.0.clients.channel_closed(channel) {
            self.0
                .notify_consumer_ids_changed(&change.group, change.notify);
        }
    }
}

/// A running broker.
pub struct Broker {
    inner: Arc<BrokerInner>,
    server: ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Broker {
    /// Opens the store, loads the config files and starts serving. Returns once the broker
    /// accepts connections and has registered with its name servers (if reachable).
    pub async fn start(config: BrokerConfig) -> Result<Broker, String> {
        let root = config.store.root_dir.clone();
        let config_dir = root.join("config");
        std::fs::create_dir_all(&config_dir)
            .map_err(|e| format!("cannot create {}: {e}", config_dir.display()))?;
        let delay_levels = schedule::parse_delay_levels(&config.message_delay_level)?;
        let store_config = config.store.clone();
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_config))
            .await
            .map_err(|e| format!("store open panicked: {e}"))?
            .map_err(|e| e.to_string())?;
        let io = |e: std::io::Error| {
            format!(
                "loading broker config files under {}: {e}",
                config_dir.display()
            )
        };
        let topics = TopicConfigManager::load(
            config_dir.join("topics.json"),
            &config.cluster_name,
            &config.broker_name,
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
            delay_levels.len() as i32,
        )
        .map_err(io)?;
        let groups = SubscriptionGroupManager::load(
            config_dir.join("subscriptionGroup.json"),
            config.auto_create_subscription_group,
        )
        .map_err(io)?;
        let offsets =
            ConsumerOffsetManager::load(config_dir.join("consumerOffset.json")).map_err(io)?;
        let schedule =
            schedule::ScheduleService::load(config_dir.join("delayOffset.json"), delay_levels)
                .map_err(io)?;
        let timer =
            timer::TimerService::load(config_dir.join("timerCheckpoint.json")).map_err(io)?;

        let listen = SocketAddr::new(config.listen_ip, config.listen_port);
        let broker_ip: IpAddr = config.broker_ip.unwrap_or_else(crate::protocol::local_ip);

        // The server needs the handler and the handler needs the bound port: bind through a
        // late-initialised cell.
        let cell: Arc<std::sync::OnceLock<Arc<BrokerInner>>> = Arc::new(std::sync::OnceLock::new());
        let server = RemotingServer::bind(listen, Arc::new(LateHandler(cell.clone())))
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let store_host = SocketAddr::new(broker_ip, server.local_addr.port());
        let inner = Arc::new(BrokerInner {
            config,
            store,
            topics,
            groups,
            offsets,
            clients: ClientManager::default(),
            pulls: PullHoldService::default(),
            locks: QueueLockManager::default(),
            schedule,
            transactions: transaction::TransactionService::default(),
            timer,
            namesrv_client: RemotingClient::default(),
            store_host,
            runtime: tokio::runtime::Handle::current(),
            register_now: tokio::sync::Notify::new(),
        });
        let _ = cell.set(inner.clone());
        long_poll::install_arrival_listener(&inner);
        {
            let i = inner.clone();
            let _ = tokio::task::spawn_blocking(move || i.transactions.load(&i)).await;
        }

        let mut tasks = Vec::new();
        // Name server registration: at once, every period, and whenever topics change.
        inner.register_all().await;
        let reg = inner.clone();
        tasks.push(tokio::spawn(async move {
            let period = Duration::from_millis(reg.config.register_name_server_period_ms);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = reg.register_now.notified() => {}
                }
                reg.register_all().await;
            }
        }));
        let persist = inner.clone();
        tasks.push(tokio::spawn(async move {
            let period =
                Duration::from_millis(persist.config.flush_consumer_offset_interval_ms.max(100));
            loop {
                tokio::time::sleep(period).await;
                let p = persist.clone();
                let _ = tokio::task::spawn_blocking(move || p.offsets.persist()).await;
            }
        }));
        let scan = inner.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(CLIENT_SCAN_INTERVAL).await;
                let timeout = Duration::from_millis(scan.config.channel_expired_timeout_ms);
                for ch in scan.clients.expired_channels(timeout) {
                    tracing::info!(remote = %ch.remote_addr(), "closing silent client channel");
                    for change in scan.clients.channel_closed(&ch) {
                        scan.notify_consumer_ids_changed(&change.group, change.notify);
                    }
                    ch.close().await;
                }
            }
        }));
        tasks.extend(schedule::start(&inner));
        tasks.push(transaction::start(&inner));
        tasks.push(timer::start(&inner));
        tracing::info!(addr = %inner.broker_addr(), store = %inner.config.store.root_dir.display(), "broker started");
        Ok(Broker {
            inner,
            server,
            tasks,
        })
    }

    /// The address clients reach this broker at (brokerIP1:port).
    pub fn addr(&self) -> SocketAddr {
        self.inner.store_host
    }

    /// The bound listen address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr
    }

    pub fn inner(&self) -> &Arc<BrokerInner> {
        &self.inner
    }

    /// Stops serving, unregisters from name servers, persists offsets and closes the store.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.inner.unregister_all().await;
        self.server.shutdown().await;
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            inner.offsets.persist();
            inner.schedule.persist();
            inner.timer.persist();
            inner.store.shutdown();
        })
        .await;
        self.inner.namesrv_client.close_all().await;
        tracing::info!("broker stopped");
    }
}

struct LateHandler(Arc<std::sync::OnceLock<Arc<BrokerInner>>>);

impl RequestHandler for LateHandler {
    fn handle(
        &self,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        match self.0.get() {
            Some(inner) => Handler(inner.clone()).handle(channel, request),
            None => Box::pin(async move {
                Some(RemotingCommand::response_to(
                    &request,
                    response_code::SYSTEM_BUSY,
                    Some("[REJECTREQUEST]the broker is starting".into()),
                ))
            }),
        }
    }

    fn on_close(&self, channel: &Channel) {
        if let Some(inner) = self.0.get() {
            Handler(inner.clone()).on_close(channel)
        }
    }
}
