//! Commitlog append throughput of the store, beside plain writes of the same bytes to a file on
//! the same disk in the same run.
//!
//! * ASYNC_FLUSH, one appender: `MessageStore::put_message` in a loop (encode, copy into the mapped
//!   commitlog, consume queue entry; the background flusher runs as in a broker) against
//!   `write(2)` of the same records through a 1 MiB buffer, never synced.
//! * SYNC_FLUSH, 1 and 16 appender threads, each waiting until its put is durable (group commit),
//!   against one thread writing the same records and calling `fdatasync` after every 1 (resp. 16)
//!   records into a file sized up front like a commitlog file: the best a store can do with one
//!   sync per message (resp. per 16 messages).
//!
//! Byte counts are stored record bytes (header + body + topic + properties), the same on both
//! sides. Every case runs `--rounds` times, store and baseline interleaved, and the best round of
//! each is reported: on a shared machine the best round is the one least disturbed by others.
//! For ASYNC the CPU time of the appending thread per message is shown too (from
//! `/proc/thread-self/schedstat`), which other load does not inflate.
//!
//! Usage: `store-append [--dir DIR] [--async-mib N] [--sync-seconds S] [--rounds R]
//! [--only async|sync]`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocketmq::protocol::message::{encode_properties, MessageRecord};
use rocketmq::store::{FlushDiskType, MessageStore, PutMessageStatus, StoreConfig};

const TOPIC: &str = "BenchTopic";
const QUEUES: i32 = 8;
/// Buffer of the plain-write baseline.
const WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// Commitlog file size (RocketMQ's default); the fdatasync baseline file is sized the same.
const COMMIT_LOG_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// Reference copy target: large enough to leave the CPU caches, small enough to stay resident.
const MEMCPY_TARGET_BYTES: usize = 64 * 1024 * 1024;

struct Args {
    dir: PathBuf,
    async_bytes: u64,
    sync_duration: Duration,
    rounds: usize,
    run_async: bool,
    run_sync: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: std::env::temp_dir().join("store-append-bench"),
        async_bytes: 256 * 1024 * 1024,
        sync_duration: Duration::from_secs(3),
        rounds: 3,
        run_async: true,
        run_sync: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--dir" => args.dir = PathBuf::from(value()),
            "--async-mib" => args.async_bytes = value().parse::<u64>().unwrap() * 1024 * 1024,
            "--sync-seconds" => {
                args.sync_duration = Duration::from_secs_f64(value().parse().unwrap())
            }
            "--rounds" => args.rounds = value().parse::<usize>().unwrap().max(1),
            "--only" => match value().as_str() {
                "async" => args.run_sync = false,
                "sync" => args.run_async = false,
                other => panic!("--only async|sync, not {other}"),
            },
            "-h" | "--help" => {
                println!(
                    "store-append [--dir DIR] [--async-mib N] [--sync-seconds S] [--rounds R] \
                     [--only async|sync]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn message(body_bytes: usize, queue_id: i32) -> MessageRecord {
    let props = [("TAGS".to_string(), "TagA".to_string())].into();
    MessageRecord {
        topic: TOPIC.into(),
        queue_id,
        born_host: "127.0.0.1:50000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse::<SocketAddr>().unwrap(),
        born_timestamp: 1_700_000_000_000,
        body: Bytes::from(
            (0..body_bytes)
                .map(|i| (i * 31 % 251) as u8)
                .collect::<Vec<u8>>(),
        ),
        properties: encode_properties(&props),
        ..Default::default()
    }
}

/// Nanoseconds the calling thread has run on a CPU.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, Default)]
struct Measure {
    msgs: u64,
    bytes: u64,
    elapsed: Duration,
    /// CPU time of the (single) writing thread; 0 when not measured.
    cpu_ns: u64,
}

impl Measure {
    fn msgs_per_s(&self) -> f64 {
        self.msgs as f64 / self.elapsed.as_secs_f64()
    }
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }
    fn cpu_ns_per_msg(&self) -> Option<f64> {
        (self.cpu_ns > 0).then(|| self.cpu_ns as f64 / self.msgs as f64)
    }
    fn better(self, other: Measure) -> Measure {
        if other.msgs_per_s() > self.msgs_per_s() {
            other
        } else {
            self
        }
    }
}

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Records are handed to the store in batches built outside the timed part, so that building
/// them (what a broker does when it decodes a request) is not counted as the store's work.
const ASYNC_BATCH: usize = 4096;

fn open_store(base: &Path, flush: FlushDiskType) -> (Arc<MessageStore>, PathBuf) {
    let dir = fresh_dir(base, "store");
    let store = MessageStore::open(StoreConfig {
        root_dir: dir.clone(),
        flush_disk_type: flush,
        commit_log_file_size_bytes: COMMIT_LOG_FILE_BYTES,
        ..Default::default()
    })
    .unwrap();
    (store, dir)
}

fn close_store(store: Arc<MessageStore>, dir: &Path) {
    store.shutdown();
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

/// ASYNC_FLUSH: one thread puts `msgs` messages; only the puts are timed.
fn store_async(base: &Path, body: usize, msgs: u64) -> Measure {
    let (store, dir) = open_store(base, FlushDiskType::AsyncFlush);
    let msg = message(body, 0);
    let appender = {
        let store = store.clone();
        std::thread::Builder::new()
            .name("appender-0".into())
            .spawn(move || {
                let (mut elapsed, mut cpu_ns) = (Duration::ZERO, 0);
                let mut batch = Vec::with_capacity(ASYNC_BATCH);
                let mut left = msgs;
                while left > 0 {
                    let n = left.min(ASYNC_BATCH as u64);
                    batch.extend((0..n).map(|_| msg.clone()));
                    let (t0, c0) = (Instant::now(), thread_cpu_ns());
                    for m in batch.drain(..) {
                        let r = store.put_message(m);
                        assert_eq!(r.status, PutMessageStatus::PutOk, "{:?}", r.remark);
                    }
                    cpu_ns += thread_cpu_ns() - c0;
                    elapsed += t0.elapsed();
                    left -= n;
                }
                (elapsed, cpu_ns)
            })
            .unwrap()
    };
    let (elapsed, cpu_ns) = appender.join().unwrap();
    close_store(store, &dir);
    Measure {
        msgs,
        bytes: msgs * message(body, 0).encoded_len() as u64,
        elapsed,
        cpu_ns,
    }
}

/// SYNC_FLUSH: `appenders` threads put for `duration`, each waiting until its put is durable.
fn store_sync(base: &Path, body: usize, appenders: usize, duration: Duration) -> Measure {
    let (store, dir) = open_store(base, FlushDiskType::SyncFlush);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..appenders)
        .map(|t| {
            let (store, done, stop) = (store.clone(), done.clone(), stop.clone());
            let msg = message(body, t as i32 % QUEUES);
            std::thread::Builder::new()
                .name(format!("appender-{t}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let r = store.put_message(msg.clone());
                        assert_eq!(r.status, PutMessageStatus::PutOk, "{:?}", r.remark);
                        let waiter = r.flush_waiter.expect("SYNC_FLUSH puts wait");
                        assert_eq!(waiter.blocking_recv(), Ok(true), "flushed in time");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .unwrap()
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = started.elapsed();
    let msgs = done.load(Ordering::Relaxed);
    close_store(store, &dir);
    Measure {
        msgs,
        bytes: msgs * message(body, 0).encoded_len() as u64,
        elapsed,
        cpu_ns: 0,
    }
}

/// The same records written with `write(2)` through a buffer, never synced.
fn plain_write(base: &Path, body: usize, msgs: u64) -> Measure {
    let dir = fresh_dir(base, "plain");
    let record = message(body, 0).encode();
    let started = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut w =
        BufWriter::with_capacity(WRITE_BUFFER_BYTES, File::create(dir.join("log")).unwrap());
    for _ in 0..msgs {
        w.write_all(&record).unwrap();
    }
    w.flush().unwrap();
    let cpu_ns = thread_cpu_ns() - cpu0;
    let elapsed = started.elapsed();
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
    Measure {
        msgs,
        bytes: msgs * record.len() as u64,
        elapsed,
        cpu_ns,
    }
}

/// The same records written `batch` at a time at increasing offsets of a file sized like a
/// commitlog file, each batch followed by `fdatasync`.
fn write_fdatasync(base: &Path, body: usize, batch: usize, duration: Duration) -> Measure {
    let dir = fresh_dir(base, "plain");
    let record = message(body, 0).encode();
    let batch_bytes: Vec<u8> = record.repeat(batch);
    let f = File::create(dir.join("log")).unwrap();
    f.set_len(COMMIT_LOG_FILE_BYTES).unwrap();
    f.sync_all().unwrap();
    let started = Instant::now();
    let mut msgs = 0u64;
    let mut at = 0u64;
    while started.elapsed() < duration {
        f.write_all_at(&batch_bytes, at).unwrap();
        f.sync_data().unwrap();
        at += batch_bytes.len() as u64;
        msgs += batch as u64;
    }
    let elapsed = started.elapsed();
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
    Measure {
        msgs,
        bytes: msgs * record.len() as u64,
        elapsed,
        cpu_ns: 0,
    }
}

/// Copying the same records into memory that is already resident: the ceiling for an append.
fn memcpy(body: usize, msgs: u64) -> Measure {
    let record = message(body, 0).encode();
    let mut target = vec![1u8; MEMCPY_TARGET_BYTES];
    let started = Instant::now();
    let mut pos = 0;
    for _ in 0..msgs {
        if pos + record.len() > target.len() {
            pos = 0;
        }
        target[pos..pos + record.len()].copy_from_slice(&record);
        pos += record.len();
    }
    std::hint::black_box(&target);
    Measure {
        msgs,
        bytes: msgs * record.len() as u64,
        elapsed: started.elapsed(),
        cpu_ns: 0,
    }
}

struct Row {
    case: String,
    store: Measure,
    baseline: String,
    base: Measure,
}

/// Runs `store` and `base` alternately `rounds` times; the best of each.
fn best_of(
    rounds: usize,
    mut store: impl FnMut() -> Measure,
    mut base: impl FnMut() -> Measure,
) -> (Measure, Measure) {
    let (mut s, mut b) = (Measure::default(), Measure::default());
    for _ in 0..rounds {
        b = if b.msgs == 0 {
            base()
        } else {
            b.better(base())
        };
        s = if s.msgs == 0 {
            store()
        } else {
            s.better(store())
        };
    }
    (s, b)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).unwrap();
    eprintln!(
        "working in {}, {} rounds per case",
        args.dir.display(),
        args.rounds
    );
    let mut rows = Vec::new();
    let mut reference = Vec::new();
    for body in [1024usize, 128] {
        let label = if body == 1024 { "1 KiB" } else { "128 B" };
        let record = message(body, 0).encoded_len() as u64;
        let msgs = args.async_bytes / record;
        if args.run_async {
            eprintln!("ASYNC {label}: {msgs} messages");
            let (store, base) = best_of(
                args.rounds,
                || store_async(&args.dir, body, msgs),
                || plain_write(&args.dir, body, msgs),
            );
            rows.push(Row {
                case: format!("ASYNC_FLUSH, {label}, 1 appender"),
                store,
                baseline: "write(2), 1 MiB buffer, no sync".into(),
                base,
            });
            reference.push((label, record, memcpy(body, msgs)));
        }
        for appenders in [1usize, 16].into_iter().filter(|_| args.run_sync) {
            eprintln!("SYNC {label}: {}", plural(appenders, "appender"));
            let d = args.sync_duration;
            let (store, base) = best_of(
                args.rounds,
                || store_sync(&args.dir, body, appenders, d),
                || write_fdatasync(&args.dir, body, appenders, d),
            );
            rows.push(Row {
                case: format!("SYNC_FLUSH, {label}, {}", plural(appenders, "appender")),
                store,
                baseline: format!("write + fdatasync per {}", plural(appenders, "message")),
                base,
            });
        }
    }

    let cpu = |m: &Measure| {
        m.cpu_ns_per_msg()
            .map(|n| format!("{n:.0}"))
            .unwrap_or_else(|| "–".into())
    };
    println!(
        "| case | store msgs/s | store MiB/s | store CPU ns/msg | baseline (same bytes, same disk) \
         | baseline msgs/s | baseline MiB/s | baseline CPU ns/msg | store / baseline |"
    );
    println!("|---|---:|---:|---:|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.1} | {} | {} | {:.0} | {:.1} | {} | {:.2} |",
            r.case,
            r.store.msgs_per_s(),
            r.store.mib_per_s(),
            cpu(&r.store),
            r.baseline,
            r.base.msgs_per_s(),
            r.base.mib_per_s(),
            cpu(&r.base),
            r.store.msgs_per_s() / r.base.msgs_per_s()
        );
    }
    println!();
    for (label, record, m) in &reference {
        println!(
            "Reference, {label} bodies ({record}-byte records): memcpy into resident memory \
             {:.0} msgs/s, {:.1} MiB/s.",
            m.msgs_per_s(),
            m.mib_per_s()
        );
    }
}
