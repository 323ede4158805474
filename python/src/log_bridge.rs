//! The core's `tracing` events, to Python's `logging` (logger `rocketmq.core`).
//!
//! Nothing is written to files and nothing under $HOME: Python's logging configuration decides
//! where records go. Events pass a level threshold (default WARNING, `set_log_level`) and then a
//! bounded queue to one forwarding thread, which attaches to Python to log them. The thread that
//! emits an event never waits for the GIL: it may hold a lock a Python thread is waiting for.
//! When the queue is full, events are dropped and counted, and the count is logged.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Events waiting for the forwarding thread; past this they are dropped.
const QUEUE_CAPACITY: usize = 1024;

/// Python logging levels.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;

/// Lowest Python level forwarded.
static THRESHOLD: AtomicU8 = AtomicU8::new(WARNING);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<mpsc::SyncSender<Record>> = OnceLock::new();

struct Record {
    level: u8,
    target: String,
    message: String,
}

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => INFO,
        Level::DEBUG | Level::TRACE => DEBUG,
    }
}

struct Bridge;

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for Bridge {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(queue) = QUEUE.get() else { return };
        let mut f = Fields::default();
        event.record(&mut f);
        let record = Record {
            level: python_level(event.metadata().level()),
            target: event.metadata().target().to_string(),
            message: format!("{}{}", f.message, f.rest),
        };
        if queue.try_send(record).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn forward(rx: mpsc::Receiver<Record>) {
    while let Ok(r) = rx.recv() {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        // During interpreter shutdown there is nobody to log to.
        crate::attach::try_attach(|py| {
            let logger = py
                .import("logging")
                .and_then(|l| l.call_method1("getLogger", ("rocketmq.core",)));
            let Ok(logger) = logger else { return };
            if dropped > 0 {
                let _ = logger.call_method1(
                    "log",
                    (
                        WARNING,
                        format!("{dropped} log records of the core were dropped"),
                    ),
                );
            }
            let _ = logger.call_method1("log", (r.level, format!("[{}] {}", r.target, r.message)));
        });
    }
}

/// Installs the bridge as the process's tracing subscriber (unless something else already
/// installed one).
pub fn install() {
    if QUEUE.get().is_some() {
        return;
    }
    let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
    if QUEUE.set(tx).is_err() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("rocketmq-log".into())
        .spawn(move || forward(rx));
    if started.is_err() {
        return;
    }
    let subscriber = tracing_subscriber::registry().with(Bridge);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Forward core events at or above this Python logging level (10 DEBUG ... 40 ERROR).
#[pyfunction]
pub fn set_log_level(level: u8) {
    THRESHOLD.store(level, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
}
