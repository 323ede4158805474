//! `rocketmq`: run a name server and broker together (`serve`), or each role apart.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use rocketmq::broker::{Broker, BrokerConfig};
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};
use rocketmq::namesrv::{NameServer, NamesrvConfig};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rocketmq",
    version,
    about = "Apache RocketMQ-compatible name server and broker"
)]
struct Cli {
    /// Log filter (error, warn, info, debug, or a tracing filter); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Name server and broker in one process, sharing one store directory.
    Serve {
        /// broker.conf (RocketMQ properties format); its keys override the defaults.
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
        /// Store directory (storePathRootDir). Default: $HOME/store, as RocketMQ.
        #[arg(long)]
        store_dir: Option<PathBuf>,
        /// Name server port; 0 picks a free one.
        #[arg(long, default_value_t = 9876)]
        namesrv_port: u16,
        /// Broker port (listenPort); 0 picks a free one.
        #[arg(long)]
        broker_port: Option<u16>,
        /// Address clients are told to reach the broker at (brokerIP1). Default: this host's IP.
        #[arg(long)]
        broker_ip: Option<IpAddr>,
        /// Address to bind.
        #[arg(long, default_value = "0.0.0.0")]
        listen_ip: IpAddr,
    },
    /// A name server alone.
    Namesrv {
        #[arg(short = 'p', long, default_value_t = 9876)]
        port: u16,
        #[arg(long, default_value = "0.0.0.0")]
        listen_ip: IpAddr,
    },
    /// Load generator in the manner of RocketMQ's benchmark: producers or a consumer against
    /// any name server; prints send TPS and RT (average / p99 / max) every second.
    Bench {
        /// `producer` or `consumer`.
        #[arg(long, default_value = "producer")]
        mode: String,
        /// Name server list `host:port;host:port`.
        #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
        namesrv_addr: String,
        #[arg(short = 't', long, default_value = "BenchmarkTest")]
        topic: String,
        #[arg(short = 'g', long, default_value = "benchmark_group")]
        group: String,
        /// Concurrent senders (producer) or consume threads (consumer).
        #[arg(short = 'w', long, default_value_t = 1)]
        threads: usize,
        /// Body size in bytes.
        #[arg(short = 's', long, default_value_t = 1024)]
        size: usize,
        /// Messages per send (1 = single sends, more = batch sends).
        #[arg(short = 'b', long, default_value_t = 1)]
        batch: usize,
        /// Seconds to run.
        #[arg(short = 'd', long, default_value_t = 10)]
        duration_secs: u64,
        /// Producer: each sender an OS thread making blocking sends (as the C, Go and Python
        /// bindings do) instead of a task on the runtime.
        #[arg(long)]
        blocking: bool,
    },
    /// A broker alone, registering with the given name servers.
    Broker {
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
        /// Name server list `host:port;host:port` (namesrvAddr).
        #[arg(short = 'n', long)]
        namesrv_addr: Option<String>,
    },
}

fn init_logging(filter: &str) {
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn read_conf(path: &Option<PathBuf>) -> Result<String, String> {
    match path {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        None => Ok(String::new()),
    }
}

fn home_store() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("store")
}

/// Installs the SIGINT/SIGTERM handlers and returns a future that resolves on either. Call it
/// before announcing READY, so a signal sent right after READY shuts down gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("SIGINT handler");
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            config,
            store_dir,
            namesrv_port,
            broker_port,
            broker_ip,
            listen_ip,
        } => {
            let conf = read_conf(&config)?;
            // Ports and paths from the command line win over broker.conf.
            let mut probe = BrokerConfig::default();
            let warnings = probe.apply_properties(&conf)?;
            for w in &warnings {
                tracing::warn!("{w}");
                eprintln!("warning: {w}");
            }
            let in_conf = |key: &str| {
                rocketmq::broker::config::parse_properties(&conf)
                    .iter()
                    .any(|(k, _)| k == key)
            };
            let store_dir = store_dir.unwrap_or_else(|| {
                if in_conf("storePathRootDir") {
                    probe.store.root_dir.clone()
                } else {
                    home_store()
                }
            });
            let signal = shutdown_signal();
            let cluster = EmbeddedCluster::start(EmbeddedConfig {
                store_dir: Some(store_dir.clone()),
                keep_store: true,
                namesrv_port,
                broker_port: broker_port.unwrap_or(probe.listen_port),
                listen_ip,
                broker_ip: broker_ip
                    .or(probe.broker_ip)
                    .unwrap_or_else(rocketmq::protocol::local_ip),
                broker_properties: conf,
                small_store: false,
            })
            .await?;
            println!(
                "READY namesrv={} broker={} store={}",
                cluster.namesrv_addr(),
                cluster.broker_addr(),
                store_dir.display()
            );
            signal.await;
            cluster.shutdown().await;
            Ok(())
        }
        Command::Bench {
            mode,
            namesrv_addr,
            topic,
            group,
            threads,
            size,
            batch,
            duration_secs,
            blocking,
        } => {
            use rocketmq::client::bench::{self, BenchConfig, BenchMode};
            let mode = match mode.as_str() {
                "producer" => BenchMode::Producer,
                "consumer" => BenchMode::Consumer,
                other => return Err(format!("--mode {other}: use producer or consumer")),
            };
            if blocking && mode == BenchMode::Consumer {
                return Err(
                    "--blocking is for the producer (consume threads are threads already)".into(),
                );
            }
            let report = bench::run(BenchConfig {
                namesrv_addr,
                topic,
                group,
                mode,
                threads,
                message_size_bytes: size,
                batch_size: batch,
                blocking,
                duration: std::time::Duration::from_secs(duration_secs),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "TOTAL messages={} failures={} tps={:.0} avg_rt_ms={:.3} p99_rt_ms={:.3} max_rt_ms={:.3}",
                report.messages, report.failures, report.tps, report.avg_rt_ms, report.p99_rt_ms, report.max_rt_ms
            );
            Ok(())
        }
        Command::Namesrv { port, listen_ip } => {
            let signal = shutdown_signal();
            let ns = NameServer::start(NamesrvConfig {
                listen_addr: SocketAddr::new(listen_ip, port),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("name server cannot listen on {listen_ip}:{port}: {e}"))?;
            println!("READY namesrv={}", ns.local_addr());
            signal.await;
            ns.shutdown().await;
            Ok(())
        }
        Command::Broker {
            config,
            namesrv_addr,
        } => {
            let conf = read_conf(&config)?;
            let mut bc = BrokerConfig::default();
            bc.store.root_dir = home_store();
            for w in bc.apply_properties(&conf)? {
                tracing::warn!("{w}");
                eprintln!("warning: {w}");
            }
            if let Some(n) = namesrv_addr {
                bc.namesrv_addr = Some(n);
            }
            if bc.namesrv_addr.is_none() {
                bc.namesrv_addr = std::env::var("NAMESRV_ADDR").ok();
            }
            let store = bc.store.root_dir.clone();
            let signal = shutdown_signal();
            let broker = Broker::start(bc).await?;
            println!("READY broker={} store={}", broker.addr(), store.display());
            signal.await;
            broker.shutdown().await;
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
