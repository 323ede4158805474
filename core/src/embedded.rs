//! A name server and a broker in one process: what `rocketmq serve` runs, what tests start in
//! milliseconds, and what the Python and Go bindings expose as an embedded broker.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::broker::{Broker, BrokerConfig};
use crate::namesrv::{NameServer, NamesrvConfig};

/// Commitlog file size of a test-sized store.
pub const SMALL_COMMIT_LOG_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Consume queue file size of a test-sized store (30,000 entries).
pub const SMALL_CONSUME_QUEUE_FILE_BYTES: u64 = 30_000 * 20;

#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Store directory; `None` makes a temporary one, removed at shutdown unless `keep_store`.
    pub store_dir: Option<PathBuf>,
    pub keep_store: bool,
    /// 0 picks a free port.
    pub namesrv_port: u16,
    pub broker_port: u16,
    /// Address to bind both servers to.
    pub listen_ip: IpAddr,
    /// brokerIP1: the address registered and advertised to clients.
    pub broker_ip: IpAddr,
    /// Extra `broker.conf` text applied over the defaults.
    pub broker_properties: String,
    /// Use test-sized store files (16 MiB commitlog files).
    pub small_store: bool,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            store_dir: None,
            keep_store: false,
            namesrv_port: 0,
            broker_port: 0,
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            broker_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            broker_properties: String::new(),
            small_store: true,
        }
    }
}

pub struct EmbeddedCluster {
    namesrv: NameServer,
    broker: Option<Broker>,
    namesrv_addr: SocketAddr,
    broker_addr: SocketAddr,
    store_dir: PathBuf,
    remove_store: bool,
    warnings: Vec<String>,
}

fn temp_store_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "rocketmq-rs-{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

impl EmbeddedCluster {
    /// Starts name server then broker; returns once both accept requests and the broker is
    /// registered, so clients can use the name server address at once.
    pub async fn start(config: EmbeddedConfig) -> Result<EmbeddedCluster, String> {
        let (store_dir, remove_store) = match &config.store_dir {
            Some(d) => (d.clone(), false),
            None => (temp_store_dir(), !config.keep_store),
        };
        let namesrv = NameServer::start(NamesrvConfig {
            listen_addr: SocketAddr::new(config.listen_ip, config.namesrv_port),
            ..NamesrvConfig::default()
        })
        .await
        .map_err(|e| {
            format!(
                "name server cannot listen on {}:{}: {e}",
                config.listen_ip, config.namesrv_port
            )
        })?;
        let namesrv_addr = SocketAddr::new(config.broker_ip, namesrv.local_addr().port());

        let mut bc = BrokerConfig::default();
        bc.store.root_dir = store_dir.clone();
        if config.small_store {
            bc.store.commit_log_file_size_bytes = SMALL_COMMIT_LOG_FILE_BYTES;
            bc.store.consume_queue_file_size_bytes = SMALL_CONSUME_QUEUE_FILE_BYTES;
        }
        let warnings = bc.apply_properties(&config.broker_properties)?;
        bc.namesrv_addr = Some(namesrv_addr.to_string());
        bc.listen_ip = config.listen_ip;
        bc.listen_port = config.broker_port;
        bc.broker_ip = Some(config.broker_ip);
        let broker = match Broker::start(bc).await {
            Ok(b) => b,
            Err(e) => {
                namesrv.shutdown().await;
                return Err(e);
            }
        };
        let broker_addr = broker.addr();
        Ok(EmbeddedCluster {
            namesrv,
            broker: Some(broker),
            namesrv_addr,
            broker_addr,
            store_dir,
            remove_store,
            warnings,
        })
    }

    pub fn namesrv_addr(&self) -> SocketAddr {
        self.namesrv_addr
    }
    pub fn broker_addr(&self) -> SocketAddr {
        self.broker_addr
    }
    pub fn store_dir(&self) -> &std::path::Path {
        &self.store_dir
    }
    /// Warnings from the broker properties (unknown keys).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    pub fn broker(&self) -> Option<&Broker> {
        self.broker.as_ref()
    }

    /// Stops the broker (persisting offsets, closing the store), then the name server.
    pub async fn shutdown(mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        self.namesrv.shutdown().await;
        if self.remove_store {
            let _ = std::fs::remove_dir_all(&self.store_dir);
        }
    }
}
