//! The name server: brokers register their topics here every 30 s, clients ask it where a
//! topic's queues live. State is in memory only (except the optional KV config file); a broker
//! that stops registering for `broker_expiry_ms`, or whose connection closes, is forgotten.
//!
//! * `route_info` — the route tables and every rule about them;
//! * `processor` — request decoding and answers;
//! * `register_body` — REGISTER_BROKER bodies (JSON or compressed);
//! * `kv_config` — namespaced key/value config;
//! * `json_form` — fastjson's quirky and standard JSON output.

pub mod json_form;
pub mod kv_config;
pub mod processor;
pub mod register_body;
pub mod route_info;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::protocol::bodies::{ClusterInfo, TopicRouteData};
use crate::remoting::{RemotingServer, ServerHandle};
use kv_config::KvConfigManager;
use processor::NamesrvProcessor;

/// Java `RouteInfoManager.BROKER_CHANNEL_EXPIRED_TIME`.
pub const DEFAULT_BROKER_EXPIRY_MS: u64 = 120_000;
/// How often Java's name server scans for expired brokers.
pub const DEFAULT_SCAN_INTERVAL_MS: u64 = 10_000;
/// The name server's well-known port.
pub const DEFAULT_LISTEN_PORT: u16 = 9876;

#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    pub listen_addr: SocketAddr,
    /// A broker not heard from (REGISTER_BROKER or QUERY_DATA_VERSION) for this long is removed.
    pub broker_expiry_ms: u64,
    /// How often brokers are checked for expiry.
    pub scan_interval_ms: u64,
    /// Where the KV config persists (`kvConfig.json`); `None` keeps it in memory only.
    pub kv_config_path: Option<PathBuf>,
    /// Adds `orderTopicConf` from the KV namespace ORDER_TOPIC_CONFIG to routes.
    pub order_message_enable: bool,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        NamesrvConfig {
            listen_addr: SocketAddr::from(([0, 0, 0, 0], DEFAULT_LISTEN_PORT)),
            broker_expiry_ms: DEFAULT_BROKER_EXPIRY_MS,
            scan_interval_ms: DEFAULT_SCAN_INTERVAL_MS,
            kv_config_path: None,
            order_message_enable: false,
        }
    }
}

/// A running name server.
pub struct NameServer {
    processor: Arc<NamesrvProcessor>,
    server: ServerHandle,
    scan_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl NameServer {
    /// Loads the KV config (if a path is set), binds the listen address and starts the
    /// broker liveness scan.
    pub async fn start(config: NamesrvConfig) -> std::io::Result<NameServer> {
        let kv = KvConfigManager::open(config.kv_config_path.clone())?;
        let processor = Arc::new(NamesrvProcessor::new(config.clone(), kv));
        let server = RemotingServer::bind(config.listen_addr, processor.clone()).await?;
        let scan_task = tokio::spawn(scan_brokers(
            processor.clone(),
            Duration::from_millis(config.scan_interval_ms.max(1)),
            Duration::from_millis(config.broker_expiry_ms),
        ));
        tracing::info!(addr = %server.local_addr, "name server listening");
        Ok(NameServer {
            processor,
            server,
            scan_task: Mutex::new(Some(scan_task)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr
    }

    /// Stops the scan, stops accepting and closes every connection. Calling it twice is harmless.
    pub async fn shutdown(&self) {
        let task = self.scan_task.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
        }
        self.server.shutdown().await;
    }

    /// The route a client would get for `topic` (without orderTopicConf).
    pub fn route_of(&self, topic: &str) -> Option<TopicRouteData> {
        self.processor.route.topic_route(topic)
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        self.processor.route.cluster_info()
    }

    /// A KV config value, as GET_KV_CONFIG would return it.
    pub fn kv_config(&self, namespace: &str, key: &str) -> Option<String> {
        self.processor.kv.get(namespace, key)
    }
}

/// Every `interval`, drops brokers silent for longer than `expiry` and closes their connections.
async fn scan_brokers(processor: Arc<NamesrvProcessor>, interval: Duration, expiry: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for gone in processor
            .route
            .scan_not_active_brokers(Instant::now(), expiry)
        {
            processor.close_broker_channel(gone.channel_id);
        }
    }
}
