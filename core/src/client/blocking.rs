//! The blocking facade: plain methods over the async client, on one shared tokio runtime, with
//! callbacks as boxed closures — what the Python, C and Go bindings wrap, so they stay thin.
//!
//! Calls may come from any thread, including a runtime worker (e.g. inside a send callback):
//! there the call steps out of the async context with `block_in_place` instead of panicking.
//! A sync send runs its future on the calling thread; only the response read happens on a
//! runtime thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::consumer::{ConsumeContext, ConsumeResult, ConsumerConfig};
use super::error::Result;
use super::lite_pull_consumer::LitePullConfig;
use super::message::{Message, MessageExt, SendResult};
use super::producer::{
    LocalTransactionState, MessageQueueSelector, ProducerConfig, TransactionListener,
    TransactionSendResult,
};
use super::pull::PullResult;
use crate::protocol::bodies::MessageQueue;

/// Completion callback of an asynchronous send.
pub type SendCallback = Box<dyn Fn(Result<SendResult>) + Send + Sync + 'static>;
/// A local transaction for one `send_message_in_transaction_with` call.
pub type LocalTransactionFn =
    Box<dyn FnOnce(&Message, &SendResult) -> LocalTransactionState + Send + 'static>;
/// A message listener as bindings pass it.
pub type ListenerFn =
    Box<dyn Fn(&[MessageExt], &ConsumeContext) -> ConsumeResult + Send + Sync + 'static>;

/// The runtime shared by every blocking client in the process — one per process: a forked
/// child builds its own on first use.
///
/// A runtime's threads do not survive `fork()`. In a child (a Python `multiprocessing` worker,
/// a pre-forking server), the parent's runtime looks alive but nothing runs on it, and every
/// call would hang. So the runtime is tagged with the process that built it, and a call from
/// another process builds a fresh one. The parent's runtime is leaked in the child, never
/// dropped: dropping it would wait for threads that do not exist there. The parent's clients
/// are unusable in the child (their connections and tasks belong to the parent's runtime);
/// the child creates its own.
///
/// Its threads block asynchronous signals (see `block_asynchronous_signals`).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    runtime_of(std::process::id())
}

fn runtime_of(pid: u32) -> &'static tokio::runtime::Runtime {
    // The process that first asked: no lock on its path (a lock held by another thread at
    // `fork()` would stay locked in the child forever).
    static FIRST: OnceLock<(u32, tokio::runtime::Runtime)> = OnceLock::new();
    let (first_pid, first) = FIRST.get_or_init(|| (pid, build_runtime()));
    if *first_pid == pid {
        return first;
    }
    // A forked child (or grandchild): one runtime per process, built on first use.
    static FORKED: Mutex<Option<(u32, &'static tokio::runtime::Runtime)>> = Mutex::new(None);
    let mut slot = FORKED.lock().unwrap_or_else(|e| e.into_inner());
    match *slot {
        Some((p, rt)) if p == pid => rt,
        _ => {
            let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(build_runtime()));
            *slot = Some((pid, rt));
            rt
        }
    }
}

fn build_runtime() -> tokio::runtime::Runtime {
    // The client's work is I/O and bookkeeping; listeners run on the consumers' own threads.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("rocketmq-client")
        .on_thread_start(block_asynchronous_signals)
        .enable_all()
        .build()
        .expect("the client runtime starts")
}

/// Blocks asynchronous signals (SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD, ...) in the calling
/// thread; every thread the client starts calls it first.
///
/// The kernel hands a signal sent to the process to any thread that does not block it. An
/// application's handler expects it on its own threads: Python, for one, runs handlers only on
/// its main thread, and a SIGINT landing on a client thread leaves a main thread parked in
/// `time.sleep()` asleep — Ctrl-C seems ignored. Synchronous signals (SIGSEGV, SIGBUS, SIGFPE,
/// SIGILL, SIGABRT, SIGTRAP, SIGSYS) stay deliverable: they concern the thread that caused them.
pub fn block_asynchronous_signals() {
    #[cfg(unix)]
    {
        use nix::sys::signal::{pthread_sigmask, SigmaskHow};
        if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&asynchronous_signals()), None)
        {
            tracing::warn!(error = %e, "cannot block signals in a client thread");
        }
    }
}

/// Every signal but the synchronous ones (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP,
/// SIGSYS): the set `block_asynchronous_signals` blocks, for bindings that block it themselves.
#[cfg(unix)]
pub fn asynchronous_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::all();
    for s in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGABRT,
        Signal::SIGTRAP,
        Signal::SIGSYS,
    ] {
        set.remove(s);
    }
    set
}

/// Runs `f` to completion from synchronous code.
pub fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match block_on_checking(f, Duration::MAX, || None::<()>) {
        Ok(out) => out,
        Err(()) => unreachable!("the check never fails"),
    }
}

/// `block_on` that calls `check` about every `check_interval` while `f` is pending, and gives
/// up on `f` (dropping it) with the first `Some(e)` it returns — how a binding lets its
/// language's interrupts (Python's Ctrl-C) through a long wait.
///
/// Outside the runtime (the usual case: an application thread) `f` runs on the calling thread
/// under `wait_on_caller`; from a runtime thread it steps out of the async context first (see
/// the module doc).
pub fn block_on_checking<F, E>(
    f: F,
    check_interval: Duration,
    check: impl FnMut() -> Option<E> + Send,
) -> std::result::Result<F::Output, E>
where
    F: Future + Send,
    F::Output: Send,
    E: Send,
{
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| {
                runtime()
                    .handle()
                    .block_on(until_check(f, check_interval, check))
            })
        }
        // Inside a current-thread runtime nothing may block: run it on a helper thread.
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| {
                runtime()
                    .handle()
                    .block_on(until_check(f, check_interval, check))
            })
            .join()
            .expect("blocking call panicked")
        }),
        Err(_) => {
            let _runtime = runtime().enter();
            wait_on_caller(f, check_interval, check)
        }
    }
}

/// `fut` raced against a timer calling `check` every `interval` (runtime threads only).
async fn until_check<F: Future, E>(
    fut: F,
    interval: Duration,
    mut check: impl FnMut() -> Option<E>,
) -> std::result::Result<F::Output, E> {
    let mut fut = std::pin::pin!(fut);
    if interval == Duration::MAX {
        return Ok(fut.await);
    }
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            _ = tokio::time::sleep(interval) => {
                if let Some(e) = check() {
                    return Err(e);
                }
            }
        }
    }
}

/// Wakes the caller thread: sets the flag it waits on, and unparks it.
struct CallerWaker {
    thread: std::thread::Thread,
    woken: std::sync::atomic::AtomicBool,
}

impl std::task::Wake for CallerWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        self.woken.store(true, Ordering::Release);
        // No system call unless the thread is parked.
        self.thread.unpark();
    }
}

/// The longest a caller without checks reads the socket for its reply in one go.
const CALLER_READ_MAX: Duration = Duration::from_secs(3600);

/// Drives `f` on the calling thread, which has entered the client runtime, so the I/O and
/// timers `f` registers are driven by the runtime's threads; between polls the caller parks
/// until woken, and calls `check` about every `check_interval`.
///
/// What `Runtime::block_on` does, minus a runtime timer per call for the checks: that timer
/// was registered and cancelled on every send, and registering one that is due sooner than
/// any other wakes a runtime thread to re-arm its poll timeout — a context switch per call
/// for nothing. Here the checks are the park timeout.
fn wait_on_caller<F: Future, E>(
    f: F,
    check_interval: Duration,
    mut check: impl FnMut() -> Option<E>,
) -> std::result::Result<F::Output, E> {
    use std::sync::atomic::Ordering;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    let waiter = Arc::new(CallerWaker {
        thread: std::thread::current(),
        woken: std::sync::atomic::AtomicBool::new(false),
    });
    let waker = Waker::from(waiter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let mut next_check = Instant::now().checked_add(check_interval);
    loop {
        waiter.woken.store(false, Ordering::Relaxed);
        // A request `f` sends may be answered on this thread, read from the socket here (see
        // `remoting::blocking_caller`), until the next check is due.
        let until = next_check.unwrap_or_else(|| Instant::now() + CALLER_READ_MAX);
        let polled = crate::remoting::blocking_caller(until, || f.as_mut().poll(&mut cx));
        if let Poll::Ready(out) = polled {
            return Ok(out);
        }
        while !waiter.woken.load(Ordering::Acquire) {
            match next_check {
                None => std::thread::park(),
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        if let Some(e) = check() {
                            return Err(e);
                        }
                        next_check = now.checked_add(check_interval);
                    } else {
                        std::thread::park_timeout(at - now);
                    }
                }
            }
        }
    }
}

/// Blocking producer.
#[derive(Clone)]
pub struct Producer {
    inner: super::producer::Producer,
}

impl Producer {
    pub fn new(config: ProducerConfig) -> Result<Self> {
        Ok(Producer {
            inner: super::producer::Producer::new(config)?,
        })
    }
    pub fn start(&self) -> Result<()> {
        block_on(self.inner.start())
    }
    pub fn shutdown(&self) {
        block_on(self.inner.shutdown())
    }
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_string()
    }
    pub fn send(&self, msg: Message) -> Result<SendResult> {
        block_on(self.inner.send(msg))
    }
    /// Returns at once; `callback` runs on a runtime thread when the send completes.
    pub fn send_async(&self, msg: Message, callback: SendCallback) -> Result<()> {
        let _g = runtime().enter();
        self.inner.send_with_callback(msg, callback)
    }
    pub fn send_oneway(&self, msg: Message) -> Result<()> {
        block_on(self.inner.send_oneway(msg))
    }
    pub fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult> {
        block_on(self.inner.send_batch(msgs))
    }
    pub fn send_orderly(&self, msg: Message, sharding_key: &str) -> Result<SendResult> {
        block_on(self.inner.send_orderly(msg, sharding_key))
    }
    pub fn send_to_queue(&self, msg: Message, mq: &MessageQueue) -> Result<SendResult> {
        block_on(self.inner.send_to_queue(msg, mq))
    }
    pub fn send_with_selector(
        &self,
        msg: Message,
        selector: &dyn MessageQueueSelector,
        arg: &str,
    ) -> Result<SendResult> {
        block_on(self.inner.send_with_selector(msg, selector, arg))
    }
    pub fn fetch_publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        block_on(self.inner.fetch_publish_queues(topic))
    }
    /// The async producer underneath.
    pub fn as_async(&self) -> &super::producer::Producer {
        &self.inner
    }
}

/// Blocking transaction producer.
#[derive(Clone)]
pub struct TransactionProducer {
    inner: super::producer::TransactionProducer,
}

impl TransactionProducer {
    pub fn new(config: ProducerConfig, listener: Arc<dyn TransactionListener>) -> Result<Self> {
        Ok(TransactionProducer {
            inner: super::producer::TransactionProducer::new(config, listener)?,
        })
    }
    pub fn start(&self) -> Result<()> {
        block_on(self.inner.start())
    }
    pub fn shutdown(&self) {
        block_on(self.inner.shutdown())
    }
    pub fn send_message_in_transaction(&self, msg: Message) -> Result<TransactionSendResult> {
        block_on(self.inner.send_message_in_transaction(msg))
    }
    /// With a local transaction for this call only (runs on the calling thread).
    pub fn send_message_in_transaction_with(
        &self,
        msg: Message,
        local: LocalTransactionFn,
    ) -> Result<TransactionSendResult> {
        block_on(self.inner.send_message_in_transaction_with(msg, local))
    }
    /// The plain producer of the same group.
    pub fn producer(&self) -> Producer {
        Producer {
            inner: self.inner.producer().clone(),
        }
    }
}

/// Blocking push consumer; the listener runs on the consumer's own threads.
#[derive(Clone)]
pub struct PushConsumer {
    inner: super::push_consumer::PushConsumer,
}

impl PushConsumer {
    pub fn new(config: ConsumerConfig) -> Result<Self> {
        Ok(PushConsumer {
            inner: super::push_consumer::PushConsumer::new(config)?,
        })
    }
    pub fn subscribe(&self, topic: &str, tag_expression: &str) -> Result<()> {
        self.inner.subscribe(topic, tag_expression)
    }
    pub fn subscribe_sql92(&self, topic: &str, sql: &str) -> Result<()> {
        self.inner.subscribe_sql92(topic, sql)
    }
    pub fn unsubscribe(&self, topic: &str) {
        self.inner.unsubscribe(topic)
    }
    pub fn register_message_listener_concurrently(&self, listener: ListenerFn) {
        self.inner.register_message_listener_concurrently(
            move |m: &[MessageExt], c: &ConsumeContext| listener(m, c),
        )
    }
    pub fn register_message_listener_orderly(&self, listener: ListenerFn) {
        self.inner
            .register_message_listener_orderly(move |m: &[MessageExt], c: &ConsumeContext| {
                listener(m, c)
            })
    }
    pub fn start(&self) -> Result<()> {
        block_on(self.inner.start())
    }
    /// Returns once no listener call runs (waiting at most
    /// `ConsumerConfig::listener_shutdown_timeout`); may be called from the listener.
    pub fn shutdown(&self) {
        block_on(self.inner.shutdown())
    }
    /// `shutdown` waiting at most `timeout` for running listener calls; true if none is left.
    pub fn shutdown_within(&self, timeout: Duration) -> bool {
        block_on(self.inner.shutdown_within(timeout))
    }
    pub fn suspend(&self) {
        self.inner.suspend()
    }
    pub fn resume(&self) {
        self.inner.resume()
    }
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        self.inner.assigned_queues()
    }
    pub fn rebalance_now(&self) {
        self.inner.rebalance_now()
    }
    /// Commits the consumed offsets now (also done every few seconds and at shutdown).
    pub fn persist_offsets(&self) -> Result<()> {
        block_on(self.inner.persist_offsets())
    }
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_string()
    }
}

/// Blocking lite pull consumer.
#[derive(Clone)]
pub struct LitePullConsumer {
    inner: super::lite_pull_consumer::LitePullConsumer,
}

impl LitePullConsumer {
    pub fn new(config: LitePullConfig) -> Result<Self> {
        Ok(LitePullConsumer {
            inner: super::lite_pull_consumer::LitePullConsumer::new(config)?,
        })
    }
    pub fn subscribe(&self, topic: &str, tag_expression: &str) -> Result<()> {
        self.inner.subscribe(topic, tag_expression)
    }
    pub fn assign(&self, queues: Vec<MessageQueue>) -> Result<()> {
        block_on(self.inner.assign(queues))
    }
    pub fn start(&self) -> Result<()> {
        block_on(self.inner.start())
    }
    pub fn shutdown(&self) {
        block_on(self.inner.shutdown())
    }
    pub fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        block_on(self.inner.poll(timeout))
    }
    pub fn commit_sync(&self) -> Result<()> {
        block_on(self.inner.commit_sync())
    }
    pub fn commit(&self, offsets: HashMap<MessageQueue, i64>) -> Result<()> {
        block_on(self.inner.commit(offsets))
    }
    pub fn committed(&self, mq: &MessageQueue) -> i64 {
        block_on(self.inner.committed(mq))
    }
    pub fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        block_on(self.inner.seek(mq, offset))
    }
    pub fn seek_to_begin(&self, mq: &MessageQueue) -> Result<()> {
        block_on(self.inner.seek_to_begin(mq))
    }
    pub fn seek_to_end(&self, mq: &MessageQueue) -> Result<()> {
        block_on(self.inner.seek_to_end(mq))
    }
    pub fn seek_to_timestamp(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<()> {
        block_on(self.inner.seek_to_timestamp(mq, timestamp_ms))
    }
    pub fn pause(&self, mqs: &[MessageQueue]) {
        self.inner.pause(mqs)
    }
    pub fn resume(&self, mqs: &[MessageQueue]) {
        self.inner.resume(mqs)
    }
    pub fn assignment(&self) -> Vec<MessageQueue> {
        self.inner.assignment()
    }
    pub fn fetch_message_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        block_on(self.inner.fetch_message_queues(topic))
    }
    pub fn pull(
        &self,
        mq: &MessageQueue,
        tag_expression: &str,
        offset: i64,
        max_nums: i32,
        timeout: Duration,
    ) -> Result<PullResult> {
        block_on(
            self.inner
                .pull(mq, tag_expression, offset, max_nums, timeout),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_from_a_plain_thread_drives_runtime_io_and_timers() {
        // A spawned task and a timer: both need the runtime's threads to make progress while
        // the caller waits.
        let out = block_on(async {
            let task = tokio::spawn(async { 5 });
            tokio::time::sleep(Duration::from_millis(20)).await;
            task.await.unwrap() + 1
        });
        assert_eq!(out, 6);
    }

    #[test]
    fn block_on_checking_gives_up_at_the_first_failed_check() {
        let mut checks = 0;
        let r = block_on_checking(
            std::future::pending::<()>(),
            Duration::from_millis(5),
            || {
                checks += 1;
                (checks == 3).then_some("interrupted")
            },
        );
        assert_eq!(r, Err("interrupted"));
        assert_eq!(checks, 3);
        // A future that finishes first is never interrupted.
        let r = block_on_checking(async { 7 }, Duration::from_millis(5), || Some("no"));
        assert_eq!(r, Ok(7));
    }

    #[test]
    fn each_process_gets_a_runtime_of_its_own() {
        let here = std::process::id();
        let first = runtime();
        assert!(std::ptr::eq(first, runtime_of(here)));
        // What a forked child sees: another pid, so another runtime, built once.
        let child = runtime_of(here.wrapping_add(1));
        assert!(!std::ptr::eq(first, child));
        assert!(std::ptr::eq(child, runtime_of(here.wrapping_add(1))));
        assert_eq!(
            child.block_on(async { tokio::spawn(async { 7 }).await.unwrap() }),
            7
        );
        // The first process keeps its own.
        assert!(std::ptr::eq(first, runtime()));
    }
}
