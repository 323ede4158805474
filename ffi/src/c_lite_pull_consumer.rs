//! `CLitePullConsumer.h` (rocketmq-rs addition): the lite pull consumer — subscribe (queues
//! shared by rebalance) or assign queues, then poll; offsets are committed automatically or on
//! request.
//!
//! Ownership: `CreateLitePullConsumer` returns an owned handle (`ShutdownLitePullConsumer`,
//! then `DestroyLitePullConsumer`). `LitePullConsumerPoll` returns an array of messages that
//! stays valid until `ReleaseLitePullMessages`. Queue arrays are freed with
//! `ReleaseSubscriptionMessageQueue`.
//!
//! Status codes: `LITEPULLCONSUMER_START_FAILED` (50) for settings, subscribe, assign and
//! start; `LITEPULLCONSUMER_POLL_FAILED` (51) for poll, commit, seek and queries; 1 for a NULL
//! handle or argument.

use std::collections::BTreeMap;
use std::os::raw::{c_char, c_int, c_longlong};
use std::ptr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use rocketmq::client::blocking::block_on;
use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{ClientConfig, LitePullConsumer, MessageModel};
use rocketmq::protocol::bodies::MessageQueue;

use crate::abi::{CConsumeFromWhere, CMessageModel};
use crate::boundary::{ffi_boundary, opt_str, req_str, status, value_or, FfiError, FfiResult};
use crate::c_common::CStatus;
use crate::c_message_ext::CMessageExt;
use crate::c_message_queue::{write_queue_array, CMessageQueue};
use crate::c_push_consumer::consume_from_where;
use crate::client_settings::{
    check_namesrv, set_instance_name, set_namesrv_address, set_session_credentials, ClientSettings,
};
use crate::convert::{client_error, from_c_queue};
use crate::handles::Registry;
use crate::received::{find_by_array, make_list, LISTS};

/// Opaque lite pull consumer.
pub struct CLitePullConsumer {
    _private: [u8; 0],
}

const START: CStatus = CStatus::LITEPULLCONSUMER_START_FAILED;
const POLL: CStatus = CStatus::LITEPULLCONSUMER_POLL_FAILED;

struct Settings {
    config: LitePullConfig,
    namesrv_domain: Option<String>,
    /// topic → (expression, SQL92?)
    subscriptions: BTreeMap<String, (String, bool)>,
    assigned: Option<Vec<MessageQueue>>,
}

impl ClientSettings for Settings {
    fn client(&mut self) -> &mut ClientConfig {
        &mut self.config.consumer.client
    }
    fn namesrv_domain(&mut self) -> &mut Option<String> {
        &mut self.namesrv_domain
    }
}

pub(crate) struct LiteObj {
    settings: Mutex<Settings>,
    client: RwLock<Option<LitePullConsumer>>,
}

static LITE_CONSUMERS: Registry<LiteObj> = Registry::new("lite pull consumer");

fn as_obj(c: *mut CLitePullConsumer) -> *mut LiteObj {
    c as *mut LiteObj
}

unsafe fn consumer_ref<'a>(c: *mut CLitePullConsumer) -> FfiResult<&'a LiteObj> {
    // SAFETY: checked by the registry; C must not destroy a consumer while using it.
    unsafe { LITE_CONSUMERS.get(as_obj(c)) }
}

/// Creates a lite pull consumer of group `groupId` (copied); NULL returns NULL. Defaults:
/// clustering, last offset, auto-commit every 5 s, 10 messages per pull.
#[no_mangle]
pub unsafe extern "C" fn CreateLitePullConsumer(groupId: *const c_char) -> *mut CLitePullConsumer {
    ffi_boundary!(ptr::null_mut(), {
        crate::logging::init();
        // SAFETY: C string alive for this call.
        let Some(group) = value_or(unsafe { opt_str(groupId) }, None) else {
            return ptr::null_mut();
        };
        let mut config = LitePullConfig::new("", &group);
        config.consumer.client = ClientConfig::default();
        LITE_CONSUMERS.insert(LiteObj {
            settings: Mutex::new(Settings {
                config,
                namesrv_domain: None,
                subscriptions: BTreeMap::new(),
                assigned: None,
            }),
            client: RwLock::new(None),
        }) as *mut CLitePullConsumer
    })
}

fn shutdown(obj: &LiteObj) {
    let client = obj.client.write().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(c) = client {
        block_on(c.shutdown());
    }
}

/// Frees the consumer, shutting it down first if it is running.
#[no_mangle]
pub unsafe extern "C" fn DestroyLitePullConsumer(consumer: *mut CLitePullConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(
            LITE_CONSUMERS
                .remove(as_obj(consumer))
                .map(|c| shutdown(&c)),
        )
    })
}

/// Starts with the subscriptions or the assignment made so far.
#[no_mangle]
pub unsafe extern "C" fn StartLitePullConsumer(consumer: *mut CLitePullConsumer) -> c_int {
    ffi_boundary!(START as c_int, {
        status((|| {
            // SAFETY: checked by the registry.
            let obj = unsafe { consumer_ref(consumer) }?;
            let mut slot = obj.client.write().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return Ok(());
            }
            let (config, subs, assigned) = {
                let s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
                check_namesrv(&s.config.consumer.client, &s.namesrv_domain, START)?;
                (
                    s.config.clone(),
                    s.subscriptions.clone(),
                    s.assigned.clone(),
                )
            };
            let fail = client_error(START);
            let c = LitePullConsumer::new(config).map_err(fail)?;
            for (t, (e, sql)) in &subs {
                if *sql {
                    c.subscribe_sql92(t, e)
                } else {
                    c.subscribe(t, e)
                }
                .map_err(fail)?;
            }
            if let Some(q) = assigned {
                block_on(c.assign(q)).map_err(fail)?;
            }
            block_on(c.start()).map_err(fail)?;
            *slot = Some(c);
            Ok(())
        })())
    })
}

/// Commits (when auto-committing) and stops. Always `OK` for a live handle; it can be
/// started again.
#[no_mangle]
pub unsafe extern "C" fn ShutdownLitePullConsumer(consumer: *mut CLitePullConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { consumer_ref(consumer) }.map(shutdown))
    })
}

unsafe fn set(
    consumer: *mut CLitePullConsumer,
    f: impl FnOnce(&mut Settings) -> FfiResult<()>,
) -> c_int {
    status((|| {
        // SAFETY: checked by the registry.
        let obj = unsafe { consumer_ref(consumer) }?;
        let mut s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })())
}

fn bad(what: &str) -> FfiError {
    FfiError::new(START, format!("{what} is out of range"))
}

/// Name servers, "host:port;host:port" (copied).
#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerNameServerAddress(
    consumer: *mut CLitePullConsumer,
    namesrv: *const c_char,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_namesrv_address(s, namesrv)) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerInstanceName(
    consumer: *mut CLitePullConsumer,
    instanceName: *const c_char,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_instance_name(s, instanceName)) }
    })
}

/// ACL credentials (copied).
#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerSessionCredentials(
    consumer: *mut CLitePullConsumer,
    accessKey: *const c_char,
    secretKey: *const c_char,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: C strings alive for this call.
        unsafe {
            set(consumer, |s| {
                set_session_credentials(s, accessKey, secretKey)
            })
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerMessageModel(
    consumer: *mut CLitePullConsumer,
    messageModel: CMessageModel,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consumer.message_model = match messageModel {
                    0 => MessageModel::Broadcasting,
                    1 => MessageModel::Clustering,
                    _ => return Err(bad("messageModel")),
                };
                Ok(())
            })
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerConsumeFromWhere(
    consumer: *mut CLitePullConsumer,
    consumeFromWhere: CConsumeFromWhere,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consumer.consume_from_where =
                    consume_from_where(consumeFromWhere).map_err(|_| bad("consumeFromWhere"))?;
                Ok(())
            })
        }
    })
}

/// The time `CONSUME_FROM_TIMESTAMP` starts from, in milliseconds since the epoch.
#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerConsumeTimestamp(
    consumer: *mut CLitePullConsumer,
    timestampMs: c_longlong,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consumer.consume_timestamp_ms = timestampMs;
                Ok(())
            })
        }
    })
}

/// Commit polled offsets every 5 s and at shutdown (non-zero, default) or only on request.
#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerAutoCommit(
    consumer: *mut CLitePullConsumer,
    autoCommit: c_int,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.auto_commit = autoCommit != 0;
                Ok(())
            })
        }
    })
}

/// Messages per pull request (1..=1024; default 10).
#[no_mangle]
pub unsafe extern "C" fn SetLitePullConsumerPullBatchSize(
    consumer: *mut CLitePullConsumer,
    batchSize: c_int,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                if !(1..=1024).contains(&batchSize) {
                    return Err(bad("batchSize"));
                }
                s.config.pull_batch_size = batchSize;
                Ok(())
            })
        }
    })
}

unsafe fn subscribe(
    c: *mut CLitePullConsumer,
    topic: *const c_char,
    expression: *const c_char,
    sql: bool,
) -> c_int {
    status((|| {
        // SAFETY: checked by the registry; C strings alive for this call.
        let obj = unsafe { consumer_ref(c) }?;
        let t = unsafe { req_str(topic, "topic") }?;
        let e = unsafe { opt_str(expression) }?
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "*".into());
        if sql && e == "*" {
            return Err(FfiError::null("expression"));
        }
        if let Some(client) = obj
            .client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if sql {
                client.subscribe_sql92(&t, &e)
            } else {
                client.subscribe(&t, &e)
            }
            .map_err(client_error(START))?;
        }
        obj.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .subscriptions
            .insert(t, (e, sql));
        Ok(())
    })())
}

/// Subscribes to `topic` with a tag expression (NULL = `*`); queues come from rebalance.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerSubscribe(
    consumer: *mut CLitePullConsumer,
    topic: *const c_char,
    expression: *const c_char,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: forwarded.
        unsafe { subscribe(consumer, topic, expression, false) }
    })
}

/// Subscribes with an SQL92 expression (the broker needs `enablePropertyFilter=true`).
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerSubscribeSQL92(
    consumer: *mut CLitePullConsumer,
    topic: *const c_char,
    expression: *const c_char,
) -> c_int {
    ffi_boundary!(START as c_int, {
        // SAFETY: forwarded.
        unsafe { subscribe(consumer, topic, expression, true) }
    })
}

unsafe fn queues_from(mqs: *const CMessageQueue, size: c_int) -> FfiResult<Vec<MessageQueue>> {
    if size < 0 || (size > 0 && mqs.is_null()) {
        return Err(FfiError::null("mqs"));
    }
    if size == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the caller passes `size` CMessageQueue entries at `mqs`.
    let slice = unsafe { std::slice::from_raw_parts(mqs, size as usize) };
    Ok(slice.iter().map(from_c_queue).collect())
}

/// Reads exactly these `size` queues (no rebalance; cannot be mixed with subscribe).
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerAssign(
    consumer: *mut CLitePullConsumer,
    mqs: *const CMessageQueue,
    size: c_int,
) -> c_int {
    ffi_boundary!(START as c_int, {
        status((|| {
            // SAFETY: checked by the registry; array contract as `queues_from`.
            let obj = unsafe { consumer_ref(consumer) }?;
            let queues = unsafe { queues_from(mqs, size) }?;
            if let Some(client) = obj
                .client
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                block_on(client.assign(queues.clone())).map_err(client_error(START))?;
            }
            obj.settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .assigned = Some(queues);
            Ok(())
        })())
    })
}

fn running(obj: &LiteObj) -> FfiResult<LitePullConsumer> {
    obj.client
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| FfiError::new(POLL, "the lite pull consumer is not started"))
}

/// Waits up to `timeoutMs` for messages. `OK` with `*msgs` an array of `*size` messages
/// (NULL and 0 when none came), valid until `ReleaseLitePullMessages(*msgs)`.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerPoll(
    consumer: *mut CLitePullConsumer,
    timeoutMs: c_int,
    msgs: *mut *mut *mut CMessageExt,
    size: *mut c_int,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        status((|| {
            if msgs.is_null() || size.is_null() {
                return Err(FfiError::null("msgs/size"));
            }
            // SAFETY: checked by the registry; out-pointers checked non-NULL.
            let obj = unsafe { consumer_ref(consumer) }?;
            unsafe {
                msgs.write(ptr::null_mut());
                size.write(0);
            }
            let got = block_on(running(obj)?.poll(Duration::from_millis(timeoutMs.max(0) as u64)))
                .map_err(client_error(POLL))?;
            let (array, _) = make_list(&got);
            unsafe {
                msgs.write(array);
                size.write(got.len() as c_int);
            }
            Ok(())
        })())
    })
}

/// Frees an array of messages from `LitePullConsumerPoll`. NULL is `NULL_POINTER`.
#[no_mangle]
pub unsafe extern "C" fn ReleaseLitePullMessages(msgs: *mut *mut CMessageExt) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        match find_by_array(msgs) {
            Some(list) => status(LISTS.remove(list).map(drop)),
            None => CStatus::NULL_POINTER as c_int,
        }
    })
}

/// Commits, for every queue, the offset after the last message polled.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerCommitSync(consumer: *mut CLitePullConsumer) -> c_int {
    ffi_boundary!(POLL as c_int, {
        // SAFETY: checked by the registry.
        status(
            unsafe { consumer_ref(consumer) }
                .and_then(|o| block_on(running(o)?.commit_sync()).map_err(client_error(POLL))),
        )
    })
}

unsafe fn with_queue<T>(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
    f: impl FnOnce(LitePullConsumer, MessageQueue) -> FfiResult<T>,
) -> FfiResult<T> {
    // SAFETY: checked by the registry; `mq` NULL or one CMessageQueue.
    let obj = unsafe { consumer_ref(consumer) }?;
    let q = unsafe { mq.as_ref() }.ok_or_else(|| FfiError::null("mq"))?;
    f(running(obj)?, from_c_queue(q))
}

/// Commits `offset` (the next offset to consume) for `mq`.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerCommit(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
    offset: c_longlong,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        // SAFETY: see `with_queue`.
        status(unsafe {
            with_queue(consumer, mq, |c, q| {
                block_on(c.commit([(q, offset)].into_iter().collect())).map_err(client_error(POLL))
            })
        })
    })
}

/// The committed offset of `mq` into `*offset` (-1 if none).
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerCommitted(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
    offset: *mut c_longlong,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        status((|| {
            if offset.is_null() {
                return Err(FfiError::null("offset"));
            }
            // SAFETY: see `with_queue`; `offset` checked non-NULL.
            let v = unsafe { with_queue(consumer, mq, |c, q| Ok(block_on(c.committed(&q)))) }?;
            unsafe { offset.write(v) };
            Ok(())
        })())
    })
}

/// Reads `mq` from `offset` next.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerSeek(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
    offset: c_longlong,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        // SAFETY: see `with_queue`.
        status(unsafe {
            with_queue(consumer, mq, |c, q| {
                block_on(c.seek(&q, offset)).map_err(client_error(POLL))
            })
        })
    })
}

/// Reads `mq` from its first message next.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerSeekToBegin(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        // SAFETY: see `with_queue`.
        status(unsafe {
            with_queue(consumer, mq, |c, q| {
                block_on(c.seek_to_begin(&q)).map_err(client_error(POLL))
            })
        })
    })
}

/// Reads `mq` from its end (only new messages) next.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerSeekToEnd(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        // SAFETY: see `with_queue`.
        status(unsafe {
            with_queue(consumer, mq, |c, q| {
                block_on(c.seek_to_end(&q)).map_err(client_error(POLL))
            })
        })
    })
}

/// The offset of the first message of `mq` stored at or after `timestampMs`, into `*offset`.
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerOffsetForTimestamp(
    consumer: *mut CLitePullConsumer,
    mq: *const CMessageQueue,
    timestampMs: c_longlong,
    offset: *mut c_longlong,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        status((|| {
            if offset.is_null() {
                return Err(FfiError::null("offset"));
            }
            // SAFETY: see `with_queue`; `offset` checked non-NULL.
            let v = unsafe {
                with_queue(consumer, mq, |c, q| {
                    block_on(c.offset_for_timestamp(&q, timestampMs)).map_err(client_error(POLL))
                })
            }?;
            unsafe { offset.write(v) };
            Ok(())
        })())
    })
}

/// The readable queues of `topic` (a `malloc`ed array, freed by
/// `ReleaseSubscriptionMessageQueue`).
#[no_mangle]
pub unsafe extern "C" fn LitePullConsumerFetchMessageQueues(
    consumer: *mut CLitePullConsumer,
    topic: *const c_char,
    mqs: *mut *mut CMessageQueue,
    size: *mut c_int,
) -> c_int {
    ffi_boundary!(POLL as c_int, {
        status((|| {
            if mqs.is_null() || size.is_null() {
                return Err(FfiError::null("mqs/size"));
            }
            // SAFETY: checked by the registry; C string alive; out-pointers checked.
            let obj = unsafe { consumer_ref(consumer) }?;
            let topic = unsafe { req_str(topic, "topic") }?;
            let queues =
                block_on(running(obj)?.fetch_message_queues(&topic)).map_err(client_error(POLL))?;
            unsafe { write_queue_array(&queues, mqs, size) }
        })())
    })
}
