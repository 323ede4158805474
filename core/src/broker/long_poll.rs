//! Long polling: a pull that finds nothing is parked per queue and answered as soon as a
//! matching message lands there, or when its suspend time runs out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::BrokerInner;
use crate::protocol::RemotingCommand;
use crate::remoting::Channel;

/// How often parked pulls are checked for their deadline.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

struct HeldPull {
    channel: Channel,
    request: RemotingCommand,
    /// The offset the pull asked for: any message at or past it wakes the pull.
    offset: i64,
    /// Tag codes the subscription accepts; `None` accepts all.
    tag_codes: Option<Vec<i32>>,
    /// Answered (with whatever is there) at this time if nothing woke it before.
    deadline: Instant,
}

/// Parked pulls by topic, then queue.
type Held = HashMap<String, HashMap<i32, Vec<HeldPull>>>;

#[derive(Default)]
pub struct PullHoldService {
    held: Mutex<Held>,
    /// Number of parked pulls, so that a message arriving with none parked takes no lock.
    count: AtomicUsize,
    sweeper: AtomicBool,
}

impl PullHoldService {
    /// Parks a pull until a message arrives or `timeout` passes.
    #[allow(clippy::too_many_arguments)]
    pub fn suspend(
        inner: &Arc<BrokerInner>,
        channel: Channel,
        request: RemotingCommand,
        topic: &str,
        queue_id: i32,
        offset: i64,
        tag_codes: Option<Vec<i32>>,
        timeout: Duration,
    ) {
        let svc = &inner.pulls;
        if !svc.sweeper.swap(true, Ordering::AcqRel) {
            start_sweeper(inner);
        }
        {
            let mut held = svc.held.lock().unwrap();
            let queues = match held.get_mut(topic) {
                Some(q) => q,
                None => held.entry(topic.to_string()).or_default(),
            };
            queues.entry(queue_id).or_default().push(HeldPull {
                channel,
                request,
                offset,
                tag_codes,
                deadline: Instant::now() + timeout,
            });
            svc.count.fetch_add(1, Ordering::SeqCst);
        }
        // A message may have landed between the store read and the parking above.
        let max = inner.store.max_offset_in_queue(topic, queue_id);
        if max > offset {
            wake(inner, topic, queue_id, max, None);
        }
    }

    /// How many pulls are parked (for tests and stats).
    pub fn held_count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Takes the pulls whose deadline has passed.
    fn take_expired(&self, now: Instant) -> Vec<HeldPull> {
        if self.count.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut held = self.held.lock().unwrap();
        held.retain(|_, queues| {
            queues.retain(|_, list| {
                let mut i = 0;
                while i < list.len() {
                    if list[i].deadline <= now {
                        out.push(list.swap_remove(i));
                    } else {
                        i += 1;
                    }
                }
                !list.is_empty()
            });
            !queues.is_empty()
        });
        self.count.fetch_sub(out.len(), Ordering::SeqCst);
        out
    }
}

/// One task answers the pulls whose time ran out (not a timer per pull: under load most pulls
/// are woken by a message long before their deadline).
fn start_sweeper(inner: &Arc<BrokerInner>) {
    let weak = Arc::downgrade(inner);
    inner.runtime.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            for p in inner.pulls.take_expired(Instant::now()) {
                let inner = inner.clone();
                inner
                    .runtime
                    .clone()
                    .spawn(async move { execute(&inner, p).await });
            }
        }
    });
}

async fn execute(inner: &Arc<BrokerInner>, p: HeldPull) {
    let opaque = p.request.opaque;
    if p.channel.is_closed() {
        return;
    }
    if let Some(resp) =
        super::processor::pull::process(inner, p.channel.clone(), p.request, false).await
    {
        let _ = p.channel.respond(opaque, resp).await;
    }
}

/// Wakes the pulls parked on a queue that a message at `max_offset - 1` with `tags_code` satisfies.
fn wake(
    inner: &Arc<BrokerInner>,
    topic: &str,
    queue_id: i32,
    max_offset: i64,
    tags_code: Option<i64>,
) {
    let svc = &inner.pulls;
    if svc.count.load(Ordering::SeqCst) == 0 {
        return;
    }
    let ready: Vec<HeldPull> = {
        let mut held = svc.held.lock().unwrap();
        let Some(queues) = held.get_mut(topic) else {
            return;
        };
        let Some(list) = queues.get_mut(&queue_id) else {
            return;
        };
        let mut ready = Vec::new();
        let mut i = 0;
        while i < list.len() {
            let p = &list[i];
            let tag_ok = match (&p.tag_codes, tags_code) {
                (None, _) | (_, None) => true,
                (Some(codes), Some(code)) => codes.contains(&(code as i32)),
            };
            if max_offset > p.offset && tag_ok {
                ready.push(list.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if list.is_empty() {
            queues.remove(&queue_id);
            if queues.is_empty() {
                held.remove(topic);
            }
        }
        svc.count.fetch_sub(ready.len(), Ordering::SeqCst);
        ready
    };
    for p in ready {
        let inner = inner.clone();
        inner
            .runtime
            .clone()
            .spawn(async move { execute(&inner, p).await });
    }
}

/// Connects the store's dispatch to the parked pulls.
pub fn install_arrival_listener(inner: &Arc<BrokerInner>) {
    let weak: Weak<BrokerInner> = Arc::downgrade(inner);
    inner.store.set_arrival_listener(Box::new(
        move |topic, queue_id, max_offset, tags_code, _props| {
            if let Some(inner) = weak.upgrade() {
                // Cheap when nothing is parked: one map lookup under a short lock.
                wake(&inner, topic, queue_id, max_offset, Some(tags_code));
            }
        },
    ));
}
