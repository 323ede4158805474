//! Running the application's listener: a pool of consume threads (listeners may block), the
//! concurrent and orderly consumption rules, and sending failed messages back for retry.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use super::config::retry_topic;
use super::consumer::{ConsumeContext, ConsumeResult, SharedMessages};
use super::message::{Message, MessageExt};
use super::process_queue::ProcessQueue;
use super::push_consumer::PushInner;
use crate::protocol::bodies::MessageQueue;
use crate::protocol::message::property;
use crate::protocol::{request_code, response_code, RemotingCommand};

/// An orderly queue's turn.
type Task = Box<dyn FnOnce() + Send + 'static>;

/// What a consume thread runs.
pub(crate) enum Job {
    Task(Task),
    /// Concurrently consumed messages of one queue; a thread may take several together.
    Delivery(Delivery),
}

pub(crate) struct Delivery {
    inner: Arc<PushInner>,
    mq: MessageQueue,
    pq: Arc<ProcessQueue>,
    /// Shared with the listener, which may keep them (see `MessageListener::consume_each`).
    msgs: SharedMessages,
}

/// Failed concurrent messages that could not be sent back are consumed again after this.
const LOCAL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// An orderly job yields its thread after this long so other queues get their turn.
const MAX_TIME_CONSUME_CONTINUOUSLY: Duration = Duration::from_secs(60);

/// Plain threads fed from one queue of jobs.
///
/// A thread takes one job; if it is a delivery, it also takes further queued deliveries, up to
/// the listener's `max_deliveries_per_call` and to its fair share of what is queued among the
/// threads waiting for work (so a delivery never waits behind another while a thread is idle),
/// and hands them to the listener in one call.
///
/// Shutdown closes the queue (threads finish the jobs already queued, which return at once for
/// dropped queues, and exit) and joins the threads, so that no listener runs once the consumer's
/// shutdown has returned. A listener may itself shut its consumer down: the thread it runs on is
/// not waited for (it could never finish while it waits), every other one is.
pub(crate) struct ConsumePool {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    queue: Arc<JobQueue>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    live: Arc<LiveThreads>,
}

/// The receiving end the threads share, and what they need to size a group.
struct JobQueue {
    rx: Mutex<mpsc::Receiver<Job>>,
    /// Jobs submitted and not taken yet.
    queued: AtomicUsize,
    /// Threads waiting for a job.
    idle: AtomicUsize,
    max_group: usize,
}

impl JobQueue {
    /// The next job and, after a delivery, the deliveries taken with it (plus the task that
    /// ended the group, if one did). None once the queue is closed and empty.
    fn next(&self) -> Option<(Vec<Delivery>, Option<Task>)> {
        self.idle.fetch_add(1, Ordering::SeqCst);
        let rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
        let first = rx.recv();
        self.idle.fetch_sub(1, Ordering::SeqCst);
        let first = first.ok()?;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let first = match first {
            Job::Delivery(d) => d,
            Job::Task(task) => return Some((Vec::new(), Some(task))),
        };
        let mut group = vec![first];
        if self.max_group > 1 {
            // This thread's share of what is queued, the waiting threads taking the rest.
            let queued = self.queued.load(Ordering::SeqCst);
            let waiting = self.idle.load(Ordering::SeqCst);
            let share = 1 + queued.div_ceil(waiting + 1);
            while group.len() < share.min(self.max_group) {
                match rx.try_recv() {
                    Ok(Job::Delivery(d)) => {
                        self.queued.fetch_sub(1, Ordering::SeqCst);
                        group.push(d);
                    }
                    Ok(Job::Task(task)) => {
                        self.queued.fetch_sub(1, Ordering::SeqCst);
                        return Some((group, Some(task)));
                    }
                    Err(_) => break,
                }
            }
        }
        Some((group, None))
    }
}

/// How many pool threads have not yet left their loop; shutdown waits on it.
#[derive(Default)]
struct LiveThreads {
    count: Mutex<usize>,
    changed: Condvar,
}

/// Counts its thread out when the thread leaves its loop, also by a panic.
struct LiveGuard(Arc<LiveThreads>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.0.changed.notify_all();
    }
}

impl ConsumePool {
    /// `max_group`: most deliveries handed to the listener at once (its
    /// `max_deliveries_per_call`).
    pub fn new(threads: usize, name: &str, max_group: usize) -> ConsumePool {
        let (tx, rx) = mpsc::channel::<Job>();
        let queue = Arc::new(JobQueue {
            rx: Mutex::new(rx),
            queued: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            max_group: max_group.max(1),
        });
        let live = Arc::new(LiveThreads::default());
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let queue = queue.clone();
            *live.count.lock().unwrap() += 1;
            let guard = LiveGuard(live.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    let _counted = guard;
                    // Signals are for the application's threads (see `blocking`).
                    super::blocking::block_asynchronous_signals();
                    while let Some((group, task)) = queue.next() {
                        if !group.is_empty() {
                            consume_deliveries(group);
                        }
                        if let Some(task) = task {
                            task();
                        }
                    }
                });
            match spawned {
                Ok(h) => handles.push(h),
                // The closure, and with it the guard, was dropped: the count is right.
                Err(e) => tracing::error!(error = %e, "cannot start a consume thread"),
            }
        }
        ConsumePool {
            tx: Mutex::new(Some(tx)),
            queue,
            threads: Mutex::new(handles),
            live,
        }
    }

    pub fn submit(&self, job: Job) -> bool {
        match self.tx.lock().unwrap().as_ref() {
            Some(tx) => {
                self.queue.queued.fetch_add(1, Ordering::SeqCst);
                if tx.send(job).is_ok() {
                    true
                } else {
                    self.queue.queued.fetch_sub(1, Ordering::SeqCst);
                    false
                }
            }
            None => false,
        }
    }

    /// Refuses further jobs; the threads finish the queued ones and exit.
    pub fn close(&self) {
        self.tx.lock().unwrap().take();
    }

    /// Blocks until every thread but `caller` (the thread asking, which may be one of ours when
    /// a listener shuts its consumer down) has exited, at most `timeout`, and joins them.
    /// True if none is left running; threads still running after `timeout` are left to finish
    /// on their own (a later call waits for them again).
    pub fn join(&self, caller: ThreadId, timeout: Duration) -> bool {
        let own = self
            .threads
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.thread().id() == caller)
            .count();
        let all_exited = {
            let n = self.live.count.lock().unwrap_or_else(|e| e.into_inner());
            let (n, _) = self
                .live
                .changed
                .wait_timeout_while(n, timeout, |n| *n > own)
                .unwrap_or_else(|e| e.into_inner());
            *n <= own
        };
        let mut threads = self.threads.lock().unwrap();
        let (done, left): (Vec<_>, Vec<_>) = std::mem::take(&mut *threads)
            .into_iter()
            .partition(|h| h.thread().id() != caller && (all_exited || h.is_finished()));
        for h in done {
            // A panic left the loop already; the listener's own panics are caught per job.
            let _ = h.join();
        }
        let running = left.iter().filter(|h| h.thread().id() != caller).count();
        *threads = left;
        if running > 0 {
            tracing::warn!(
                running,
                timeout_ms = timeout.as_millis() as u64,
                "consume threads still running a listener after the shutdown timeout"
            );
        }
        running == 0
    }
}

fn listener_panicked(p: &Box<dyn std::any::Any + Send>) {
    tracing::warn!(
        panic = %super::producer::transaction_panic_text(p),
        "the message listener panicked; the messages will be consumed again"
    );
}

fn run_listener(inner: &PushInner, msgs: &[MessageExt], ctx: &ConsumeContext) -> ConsumeResult {
    let listener = match inner.listener.lock().unwrap().clone() {
        Some(l) => l,
        None => return ConsumeResult::ReconsumeLater,
    };
    match catch_unwind(AssertUnwindSafe(|| listener.consume(msgs, ctx))) {
        Ok(r) => r,
        Err(p) => {
            listener_panicked(&p);
            ConsumeResult::ReconsumeLater
        }
    }
}

/// Concurrent deliveries taken together by one consume thread (all of one consumer): one
/// listener call for those whose queue is still ours, then each one's result.
fn consume_deliveries(deliveries: Vec<Delivery>) {
    let live: Vec<Delivery> = deliveries
        .into_iter()
        .filter(|d| !d.pq.is_dropped())
        .collect();
    let Some(inner) = live.first().map(|d| d.inner.clone()) else {
        return;
    };
    let ctxs: Vec<ConsumeContext> = live
        .iter()
        .map(|d| ConsumeContext {
            queue: inner.visible_queue(&d.mq),
            orderly: false,
        })
        .collect();
    let results = {
        let calls: Vec<(&SharedMessages, &ConsumeContext)> = live
            .iter()
            .zip(&ctxs)
            .map(|(d, ctx)| (&d.msgs, ctx))
            .collect();
        let listener = inner.listener.lock().unwrap().clone();
        let results = listener.and_then(|l| {
            catch_unwind(AssertUnwindSafe(|| l.consume_each(&calls)))
                .map_err(|p| listener_panicked(&p))
                .ok()
        });
        match results {
            Some(r) if r.len() == calls.len() => r,
            Some(r) => {
                tracing::warn!(
                    given = calls.len(),
                    returned = r.len(),
                    "the message listener returned a result count unlike its deliveries; they \
                     will be consumed again"
                );
                vec![ConsumeResult::ReconsumeLater; calls.len()]
            }
            None => vec![ConsumeResult::ReconsumeLater; calls.len()],
        }
    };
    for (d, result) in live.into_iter().zip(results) {
        inner.finish_concurrently(d.mq, d.pq, d.msgs, result);
    }
}

impl PushInner {
    /// Hands freshly pulled messages to the consume threads.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        mq: &MessageQueue,
        pq: &Arc<ProcessQueue>,
        msgs: Vec<MessageExt>,
    ) {
        if self.is_orderly() {
            pq.put_owned(msgs);
            if pq.try_start_consuming() {
                self.submit_orderly(mq.clone(), pq.clone());
            }
        } else {
            pq.put(&msgs);
            let batch = self.config.consume_batch_max_size;
            let mut msgs = msgs.into_iter();
            loop {
                let chunk: SharedMessages = msgs.by_ref().take(batch).collect();
                if chunk.is_empty() {
                    break;
                }
                self.submit_concurrently(mq.clone(), pq.clone(), chunk);
            }
        }
    }

    fn submit_concurrently(
        self: &Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        msgs: SharedMessages,
    ) {
        if let Some(pool) = self.pool.get() {
            pool.submit(Job::Delivery(Delivery {
                inner: self.clone(),
                mq,
                pq,
                msgs,
            }));
        }
    }

    /// After the listener's `result` for one delivery: failed messages go back to the broker
    /// (or are retried here), and the queue's offset moves past what is done.
    fn finish_concurrently(
        self: &Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        msgs: SharedMessages,
        result: ConsumeResult,
    ) {
        if pq.is_dropped() {
            // The queue moved to another client, which will deliver these again.
            return;
        }
        // Offsets of messages to be consumed again here: not done with yet.
        let mut retried: Vec<i64> = Vec::new();
        if result == ConsumeResult::ReconsumeLater {
            if self.is_clustering() {
                let Some(rt) = self.runtime.get() else { return };
                let mut failed = Vec::new();
                for m in msgs.iter() {
                    if !rt.block_on(self.send_back(m)) {
                        failed.push(m.clone());
                    }
                }
                if !failed.is_empty() {
                    retried = failed.iter().map(|f| f.queue_offset).collect();
                    for f in &mut failed {
                        f.reconsume_times += 1;
                    }
                    let me = self.clone();
                    let (mq2, pq2) = (mq.clone(), pq.clone());
                    rt.spawn(async move {
                        tokio::time::sleep(LOCAL_RETRY_DELAY).await;
                        if !pq2.is_dropped() && me.is_running() {
                            me.submit_concurrently(mq2, pq2, failed.into());
                        }
                    });
                }
            } else {
                tracing::warn!(
                    count = msgs.len(),
                    "broadcasting consumption failed; broadcast messages are not retried"
                );
            }
        }
        let done = msgs
            .iter()
            .map(|m| m.queue_offset)
            .filter(|o| !retried.contains(o));
        let offset = pq.remove(done);
        if offset >= 0 && !pq.is_dropped() {
            self.offset_store.update(&mq, offset, true);
        }
    }

    /// CONSUMER_SEND_MSG_BACK to the message's broker, falling back to producing a copy to
    /// `%RETRY%<group>`. True if one of them worked.
    pub(crate) async fn send_back(&self, m: &MessageExt) -> bool {
        let max = self.config.max_reconsume(false);
        let origin_topic = self.instance.config().wrap(&m.topic);
        if let Ok(addr) = self
            .instance
            .master_addr(&m.broker_name, &origin_topic)
            .await
        {
            let cmd = RemotingCommand::request(request_code::CONSUMER_SEND_MSG_BACK)
                .with_ext("offset", m.commit_log_offset)
                .with_ext("group", &self.group)
                .with_ext("delayLevel", self.config.delay_level_when_next_consume)
                .with_ext("originMsgId", &m.msg_id)
                .with_ext("originTopic", &origin_topic)
                .with_ext("unitMode", false)
                .with_ext("maxReconsumeTimes", max)
                .with_ext("bname", &m.broker_name);
            match self
                .instance
                .invoke(&addr, cmd, self.instance.request_timeout())
                .await
            {
                Ok(r) if r.code == response_code::SUCCESS => return true,
                Ok(r) => tracing::debug!(code = r.code, remark = ?r.remark, "send back refused"),
                Err(e) => tracing::debug!(error = %e, "send back failed"),
            }
        }
        self.resend_to_retry_topic(m, max, 3 + m.reconsume_times)
            .await
    }

    /// Produces a copy of `m` to `%RETRY%<group>` (the broker moves it to the DLQ once its
    /// reconsume count reaches `max`).
    async fn resend_to_retry_topic(&self, m: &MessageExt, max: i32, delay_level: i32) -> bool {
        let mut msg = Message {
            topic: retry_topic(&self.group),
            flag: m.flag,
            body: m.body.clone(),
            properties: m.properties.clone(),
        };
        msg.properties.remove(property::MIN_OFFSET);
        msg.properties.remove(property::MAX_OFFSET);
        let origin_id = m
            .property(property::ORIGIN_MESSAGE_ID)
            .unwrap_or(&m.msg_id)
            .to_string();
        msg.properties
            .entry(property::RETRY_TOPIC.into())
            .or_insert_with(|| self.instance.config().wrap(&m.topic));
        msg.set_property(property::ORIGIN_MESSAGE_ID, &origin_id);
        msg.set_property(
            property::RECONSUME_TIME,
            &(m.reconsume_times + 1).to_string(),
        );
        msg.set_property(property::MAX_RECONSUME_TIMES, &max.to_string());
        if delay_level > 0 {
            msg.set_property(property::DELAY_TIME_LEVEL, &delay_level.to_string());
        }
        let p = &self.inner_producer;
        let out = match p.prepare(msg) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-send a failed message");
                return false;
            }
        };
        match p.send_with_retries(&out, 2).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "re-sending a failed message to its retry topic failed");
                false
            }
        }
    }

    fn submit_orderly(self: &Arc<Self>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
        let me = self.clone();
        let ok = match self.pool.get() {
            Some(pool) => pool.submit(Job::Task(Box::new(move || me.consume_orderly(mq, pq)))),
            None => false,
        };
        if !ok {
            tracing::debug!("consume pool closed; orderly job dropped");
        }
    }

    fn submit_orderly_later(
        self: &Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        delay: Duration,
        relock: bool,
    ) {
        let Some(rt) = self.runtime.get() else { return };
        let me = self.clone();
        rt.spawn(async move {
            tokio::time::sleep(delay).await;
            if relock && !pq.is_dropped() {
                me.lock_one(&mq).await;
            }
            if pq.is_dropped() || !me.is_running() {
                pq.stop_consuming();
                return;
            }
            me.submit_orderly(mq, pq);
        });
    }

    /// One queue, one thread, offset order. The `consuming` flag of the queue stays set while a
    /// job is queued, running or scheduled again.
    fn consume_orderly(self: &Arc<Self>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
        let guard = pq.consume_lock.lock().unwrap();
        let started = Instant::now();
        let ctx = ConsumeContext {
            queue: self.visible_queue(&mq),
            orderly: true,
        };
        loop {
            if pq.is_dropped() || !self.is_running() {
                pq.stop_consuming();
                return;
            }
            if self.is_clustering() && (!pq.is_locked() || pq.lock_expired()) {
                drop(guard);
                self.submit_orderly_later(mq, pq, Duration::from_millis(500), true);
                return;
            }
            if started.elapsed() > MAX_TIME_CONSUME_CONTINUOUSLY {
                drop(guard);
                self.submit_orderly_later(mq, pq, Duration::from_millis(10), false);
                return;
            }
            let msgs = pq.take(self.config.consume_batch_max_size);
            if msgs.is_empty() {
                pq.stop_consuming();
                // A pull may have added messages between `take` and clearing the flag.
                if pq.has_pending() && pq.try_start_consuming() {
                    continue;
                }
                return;
            }
            let result = run_listener(self, &msgs, &ctx);
            if pq.is_dropped() {
                // The queue is being handed over: the releasing side waits for this lock before
                // it commits, so what was consumed must be committed now, or the next owner
                // would get it again.
                if result == ConsumeResult::Success {
                    let offset = pq.commit();
                    if offset >= 0 {
                        self.offset_store.update(&mq, offset, false);
                    }
                }
                pq.stop_consuming();
                return;
            }
            let commit = match result {
                ConsumeResult::Success => true,
                ConsumeResult::ReconsumeLater => {
                    let max = self.config.max_reconsume(true);
                    if msgs.iter().any(|m| m.reconsume_times >= max) {
                        // Retries exhausted: hand them to the broker's dead-letter path.
                        let rt = self.runtime.get().expect("runtime set at start");
                        msgs.iter().all(|m| {
                            let mut copy = m.clone();
                            copy.reconsume_times = m.reconsume_times.max(max) - 1;
                            rt.block_on(self.resend_to_retry_topic(&copy, max, 0))
                        })
                    } else {
                        false
                    }
                }
            };
            if commit {
                let offset = pq.commit();
                if offset >= 0 {
                    self.offset_store.update(&mq, offset, false);
                }
            } else {
                let again: Vec<MessageExt> = msgs
                    .into_iter()
                    .map(|mut m| {
                        m.reconsume_times += 1;
                        m
                    })
                    .collect();
                pq.make_available_again(again);
                drop(guard);
                let pause = self.config.suspend_current_queue_time;
                self.submit_orderly_later(mq, pq, pause, false);
                return;
            }
        }
    }
}
