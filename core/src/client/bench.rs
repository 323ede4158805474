//! Load generator behind `rocketmq bench`: producers sending fixed-size messages (optionally in
//! batches) or a push consumer counting what arrives; prints one line per second and a summary.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::ClientConfig;
use super::consumer::{ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig};
use super::error::{ClientError, Result};
use super::message::{Message, MessageExt};
use super::producer::{Producer, ProducerConfig};
use super::push_consumer::PushConsumer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchMode {
    Producer,
    Consumer,
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub namesrv_addr: String,
    pub topic: String,
    pub group: String,
    pub mode: BenchMode,
    /// Concurrent senders (producer mode) or consume threads (consumer mode).
    pub threads: usize,
    pub message_size_bytes: usize,
    /// Messages per send; 1 sends single messages, more uses batch sends.
    pub batch_size: usize,
    /// Producer mode: each sender an OS thread making blocking calls (`client::blocking`, what
    /// the C, Go and Python bindings do), instead of a task on the runtime.
    pub blocking: bool,
    /// How long to run.
    pub duration: Duration,
    /// Print a line every interval.
    pub report_interval: Duration,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            namesrv_addr: "127.0.0.1:9876".into(),
            topic: "BenchmarkTopic".into(),
            group: "benchmark_group".into(),
            mode: BenchMode::Producer,
            threads: 1,
            message_size_bytes: 1024,
            batch_size: 1,
            blocking: false,
            duration: Duration::from_secs(10),
            report_interval: Duration::from_secs(1),
        }
    }
}

/// What a run measured. RTs are per send call (producer) or born→consume (consumer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BenchReport {
    pub messages: u64,
    pub failures: u64,
    pub elapsed: Duration,
    pub tps: f64,
    pub avg_rt_ms: f64,
    pub p99_rt_ms: f64,
    pub max_rt_ms: f64,
}

#[derive(Default)]
struct Stats {
    messages: AtomicU64,
    failures: AtomicU64,
    /// RTs in microseconds of the current interval.
    interval_rts: Mutex<Vec<u64>>,
    all_rts: Mutex<Vec<u64>>,
}

impl Stats {
    fn record(&self, msgs: u64, rt_us: u64) {
        self.messages.fetch_add(msgs, Ordering::Relaxed);
        self.interval_rts.lock().unwrap().push(rt_us);
    }
}

fn summarize(rts: &mut [u64]) -> (f64, f64, f64) {
    if rts.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    rts.sort_unstable();
    let avg = rts.iter().sum::<u64>() as f64 / rts.len() as f64 / 1000.0;
    let p99 =
        rts[((rts.len() as f64 * 0.99).ceil() as usize).clamp(1, rts.len()) - 1] as f64 / 1000.0;
    let max = *rts.last().unwrap() as f64 / 1000.0;
    (avg, p99, max)
}

/// Runs a benchmark on the current tokio runtime, printing per-interval lines to stdout.
pub async fn run(config: BenchConfig) -> Result<BenchReport> {
    if config.threads == 0 || config.batch_size == 0 || config.message_size_bytes == 0 {
        return Err(ClientError::illegal(
            "threads, batch size and message size must be at least 1",
        ));
    }
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let label = match config.mode {
        BenchMode::Producer => "Send",
        BenchMode::Consumer => "Consume",
    };
    let finish: Box<dyn FnOnce() -> futures_like::Shutdown + Send> = match config.mode {
        BenchMode::Producer => start_producers(&config, &stats, &stop).await?,
        BenchMode::Consumer => start_consumer(&config, &stats).await?,
    };
    let mut last = 0;
    let mut tick = Instant::now();
    while start.elapsed() < config.duration {
        tokio::time::sleep(
            config
                .report_interval
                .min(config.duration.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(1)),
        )
        .await;
        let now = stats.messages.load(Ordering::Relaxed);
        let mut rts = std::mem::take(&mut *stats.interval_rts.lock().unwrap());
        let secs = tick.elapsed().as_secs_f64().max(1e-9);
        tick = Instant::now();
        let (avg, p99, max) = summarize(&mut rts);
        println!(
            "{label} TPS: {:.0} Average RT(ms): {avg:.3} P99 RT(ms): {p99:.3} Max RT(ms): {max:.3} Failed: {}",
            (now - last) as f64 / secs,
            stats.failures.load(Ordering::Relaxed)
        );
        last = now;
        stats.all_rts.lock().unwrap().extend(rts);
    }
    stop.store(true, Ordering::SeqCst);
    finish().await;
    let elapsed = start.elapsed();
    let mut rts = std::mem::take(&mut *stats.all_rts.lock().unwrap());
    rts.extend(std::mem::take(&mut *stats.interval_rts.lock().unwrap()));
    let (avg, p99, max) = summarize(&mut rts);
    let messages = stats.messages.load(Ordering::Relaxed);
    let report = BenchReport {
        messages,
        failures: stats.failures.load(Ordering::Relaxed),
        elapsed,
        tps: messages as f64 / elapsed.as_secs_f64().max(1e-9),
        avg_rt_ms: avg,
        p99_rt_ms: p99,
        max_rt_ms: max,
    };
    println!(
        "{label} total: {} messages in {:.1}s, {:.0} TPS, Average RT(ms): {:.3} P99 RT(ms): {:.3} Max RT(ms): {:.3} Failed: {}",
        report.messages,
        elapsed.as_secs_f64(),
        report.tps,
        report.avg_rt_ms,
        report.p99_rt_ms,
        report.max_rt_ms,
        report.failures
    );
    Ok(report)
}

/// `run` on the shared client runtime, for synchronous callers (the CLI).
pub fn run_blocking(config: BenchConfig) -> Result<BenchReport> {
    super::blocking::block_on(run(config))
}

mod futures_like {
    pub type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

async fn start_producers(
    config: &BenchConfig,
    stats: &Arc<Stats>,
    stop: &Arc<AtomicBool>,
) -> Result<Box<dyn FnOnce() -> futures_like::Shutdown + Send>> {
    let producer = Producer::new(ProducerConfig {
        client: ClientConfig::new(&config.namesrv_addr),
        group: config.group.clone(),
        ..Default::default()
    })?;
    producer.start().await?;
    // Compression would measure zlib, not the transport: keep bodies under the threshold
    // unless the caller asked for bigger ones.
    let body = bytes::Bytes::from(vec![b'x'; config.message_size_bytes]);
    let mut tasks = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..config.threads {
        let sender = Sender {
            producer: producer.clone(),
            stats: stats.clone(),
            topic: config.topic.clone(),
            body: body.clone(),
            batch: config.batch_size,
        };
        let stop = stop.clone();
        if config.blocking {
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !super::blocking::block_on(sender.send_one()) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }));
        } else {
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if !sender.send_one().await {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }));
        }
    }
    Ok(Box::new(move || {
        Box::pin(async move {
            for t in tasks {
                let _ = t.await;
            }
            // The stop flag is set: each thread ends after its current send.
            let _ = tokio::task::spawn_blocking(move || {
                for t in threads {
                    let _ = t.join();
                }
            })
            .await;
            producer.shutdown().await;
        })
    }))
}

/// One sender's loop body, shared by the task and the thread form.
struct Sender {
    producer: Producer,
    stats: Arc<Stats>,
    topic: String,
    body: bytes::Bytes,
    batch: usize,
}

impl Sender {
    /// Sends one message (or one batch) and records it; false if it failed.
    async fn send_one(&self) -> bool {
        let t = Instant::now();
        let r = if self.batch == 1 {
            self.producer
                .send(Message::new(self.topic.clone(), self.body.clone()))
                .await
                .map(|_| ())
        } else {
            let msgs = (0..self.batch)
                .map(|_| Message::new(self.topic.clone(), self.body.clone()))
                .collect();
            self.producer.send_batch(msgs).await.map(|_| ())
        };
        match r {
            Ok(()) => {
                self.stats
                    .record(self.batch as u64, t.elapsed().as_micros() as u64);
                true
            }
            Err(e) => {
                if self.stats.failures.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("send failed: {e}");
                }
                false
            }
        }
    }
}

async fn start_consumer(
    config: &BenchConfig,
    stats: &Arc<Stats>,
) -> Result<Box<dyn FnOnce() -> futures_like::Shutdown + Send>> {
    let mut cc = ConsumerConfig::new(&config.namesrv_addr, &config.group);
    cc.client = ClientConfig::new(&config.namesrv_addr);
    cc.consume_thread_nums = config.threads;
    cc.consume_batch_max_size = config.batch_size.max(1);
    cc.consume_from_where = ConsumeFromWhere::LastOffset;
    let consumer = PushConsumer::new(cc)?;
    consumer.subscribe(&config.topic, "*")?;
    let s = stats.clone();
    consumer.register_message_listener_concurrently(
        move |msgs: &[MessageExt], _: &ConsumeContext| {
            let now = crate::protocol::now_ms();
            for m in msgs {
                // Born-to-consume latency, in µs (ms precision).
                s.record(1, ((now - m.born_timestamp).max(0) as u64) * 1000);
            }
            ConsumeResult::Success
        },
    );
    consumer.start().await?;
    Ok(Box::new(move || {
        Box::pin(async move {
            consumer.shutdown().await;
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_percentiles() {
        let mut v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let (avg, p99, max) = summarize(&mut v);
        assert!((avg - 50.5).abs() < 1e-9);
        assert_eq!(p99, 99.0);
        assert_eq!(max, 100.0);
        assert_eq!(summarize(&mut []), (0.0, 0.0, 0.0));
    }
}
