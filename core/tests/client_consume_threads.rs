//! The threads the client starts: the push consumer's consume threads are joined by shutdown
//! (also when a listener shuts its own consumer down, and within a bound when a listener is
//! stuck), and no client thread takes asynchronous signals away from the application.

#[path = "client_support.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rocketmq::client::blocking::{self, Producer, PushConsumer};
use rocketmq::client::{ConsumeContext, ConsumeResult, Message, MessageExt};
use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};

fn cluster_with_topic(topic: &str) -> EmbeddedCluster {
    let c = blocking::runtime()
        .block_on(EmbeddedCluster::start(EmbeddedConfig::default()))
        .unwrap();
    blocking::block_on(support::create_topic(
        c.namesrv_addr(),
        &[c.broker_addr()],
        topic,
        2,
    ));
    c
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + support::DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Names of this process's threads that start with `prefix` (Linux truncates names to 15
/// bytes, so keep prefixes short).
fn threads_named(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) {
            if name.starts_with(prefix) {
                out.push(name.trim_end().to_string());
            }
        }
    }
    out
}

fn send(c: &EmbeddedCluster, topic: &str, n: usize) {
    let p = Producer::new(support::producer_config(c.namesrv_addr(), "pg_threads")).unwrap();
    p.start().unwrap();
    for i in 0..n {
        p.send(Message::new(topic, format!("m{i}"))).unwrap();
    }
    p.shutdown();
}

fn consumer(c: &EmbeddedCluster, group: &str, topic: &str) -> PushConsumer {
    let mut cfg = support::consumer_config(c.namesrv_addr(), group);
    cfg.consume_thread_nums = 3;
    let cons = PushConsumer::new(cfg).unwrap();
    cons.subscribe(topic, "*").unwrap();
    cons
}

#[test]
fn shutdown_waits_for_running_listeners_and_joins_the_consume_threads() {
    let c = cluster_with_topic("JoinT");
    send(&c, "JoinT", 4);
    let cons = consumer(&c, "cj1", "JoinT");
    let (entered_tx, entered_rx) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let finished = Arc::new(AtomicUsize::new(0));
    let calls_after_shutdown = Arc::new(AtomicUsize::new(0));
    let shut = Arc::new(AtomicBool::new(false));
    let (f2, a2, s2) = (finished.clone(), calls_after_shutdown.clone(), shut.clone());
    cons.register_message_listener_concurrently(Box::new(
        move |_: &[MessageExt], _: &ConsumeContext| {
            if s2.load(Ordering::SeqCst) {
                a2.fetch_add(1, Ordering::SeqCst);
            }
            let _ = entered_tx.lock().unwrap().send(());
            // A slow listener: shutdown has to wait for it.
            std::thread::sleep(Duration::from_millis(300));
            f2.fetch_add(1, Ordering::SeqCst);
            ConsumeResult::Success
        },
    ));
    cons.start().unwrap();
    entered_rx.recv_timeout(support::DEADLINE).unwrap();
    assert_eq!(threads_named("consume-cj1-").len(), 3);
    let entered_before = 1 + entered_rx.try_iter().count();
    assert!(cons.shutdown_within(support::DEADLINE));
    shut.store(true, Ordering::SeqCst);
    // Every listener call that had started has finished, and the threads are gone.
    let entered = entered_before + entered_rx.try_iter().count();
    assert_eq!(finished.load(Ordering::SeqCst), entered);
    assert_eq!(threads_named("consume-cj1-"), Vec::<String>::new());
    assert_eq!(calls_after_shutdown.load(Ordering::SeqCst), 0);
    // A second shutdown is harmless.
    cons.shutdown();
    blocking::block_on(c.shutdown());
}

#[test]
fn a_listener_may_shut_its_own_consumer_down() {
    let c = cluster_with_topic("SelfT");
    send(&c, "SelfT", 3);
    let cons = consumer(&c, "cs1", "SelfT");
    let me: Arc<OnceLock<PushConsumer>> = Arc::default();
    let (done_tx, done_rx) = mpsc::channel();
    let done_tx = Mutex::new(done_tx);
    let me2 = me.clone();
    cons.register_message_listener_concurrently(Box::new(
        move |_: &[MessageExt], _: &ConsumeContext| {
            if let Some(c) = me2.get() {
                let t = Instant::now();
                // Joins the other consume threads, not this one: must not wait for itself.
                let all_others = c.shutdown_within(Duration::from_secs(60));
                let _ = done_tx.lock().unwrap().send((all_others, t.elapsed()));
            }
            ConsumeResult::Success
        },
    ));
    me.set(cons.clone()).ok().unwrap();
    cons.start().unwrap();
    let (all_others, took) = done_rx.recv_timeout(support::DEADLINE).unwrap();
    assert!(all_others);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // The calling thread leaves once its listener call returns.
    wait("consume threads gone", || {
        threads_named("consume-cs1-").is_empty()
    });
    blocking::block_on(c.shutdown());
}

#[test]
fn shutdown_gives_up_on_a_stuck_listener_after_its_timeout() {
    let c = cluster_with_topic("StuckT");
    send(&c, "StuckT", 1);
    let cons = consumer(&c, "ck1", "StuckT");
    let (entered_tx, entered_rx) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    cons.register_message_listener_concurrently(Box::new(
        move |_: &[MessageExt], _: &ConsumeContext| {
            let _ = entered_tx.lock().unwrap().send(());
            let _ = release_rx
                .lock()
                .unwrap()
                .recv_timeout(support::DEADLINE * 2);
            ConsumeResult::Success
        },
    ));
    cons.start().unwrap();
    entered_rx.recv_timeout(support::DEADLINE).unwrap();
    let t = Instant::now();
    assert!(!cons.shutdown_within(Duration::from_millis(300)));
    assert!(t.elapsed() >= Duration::from_millis(300));
    wait("only the stuck thread left", || {
        threads_named("consume-ck1-").len() == 1
    });
    release_tx.send(()).unwrap();
    // A later shutdown waits for what was left, and joins it.
    assert!(cons.shutdown_within(support::DEADLINE));
    assert_eq!(threads_named("consume-ck1-"), Vec::<String>::new());
    blocking::block_on(c.shutdown());
}

/// Bit of `signal` set in this thread's blocked-signal mask (`SigBlk` of /proc).
fn blocked_here(signal: u32) -> bool {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .unwrap()
        .trim();
    let mask = u64::from_str_radix(hex, 16).unwrap();
    mask & (1 << (signal - 1)) != 0
}

const SIGINT: u32 = 2;
const SIGSEGV: u32 = 11;
const SIGTERM: u32 = 15;

#[test]
fn client_threads_leave_asynchronous_signals_to_the_application() {
    // The test's own thread keeps them.
    assert!(!blocked_here(SIGINT));
    let masks = |_: ()| {
        (
            blocked_here(SIGINT),
            blocked_here(SIGTERM),
            blocked_here(SIGSEGV),
        )
    };
    let on_worker =
        blocking::block_on(async { tokio::spawn(async move { masks(()) }).await.unwrap() });
    assert_eq!(on_worker, (true, true, false), "runtime worker");
    let on_blocking_pool = blocking::block_on(async {
        tokio::task::spawn_blocking(move || masks(()))
            .await
            .unwrap()
    });
    assert_eq!(
        on_blocking_pool,
        (true, true, false),
        "blocking pool thread"
    );
    // A blocking call runs on the caller's thread and leaves its mask alone.
    assert_eq!(
        blocking::block_on(async { masks(()) }),
        (false, false, false)
    );

    let c = cluster_with_topic("SigT");
    send(&c, "SigT", 1);
    let cons = consumer(&c, "cg1", "SigT");
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    cons.register_message_listener_concurrently(Box::new(
        move |_: &[MessageExt], _: &ConsumeContext| {
            let _ = tx.lock().unwrap().send(masks(()));
            ConsumeResult::Success
        },
    ));
    cons.start().unwrap();
    let on_consume_thread = rx.recv_timeout(support::DEADLINE).unwrap();
    assert_eq!(on_consume_thread, (true, true, false), "consume thread");
    cons.shutdown();
    blocking::block_on(c.shutdown());
}
