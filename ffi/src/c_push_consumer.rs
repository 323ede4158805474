//! `CPushConsumer.h`: push consumers (the library pulls; your callback consumes).
//!
//! Ownership: `CreatePushConsumer` returns an owned handle; call `ShutdownPushConsumer` then
//! `DestroyPushConsumer`. Settings, subscriptions and the callback are read at
//! `StartPushConsumer`. A `CMessageExt*` passed to the callback is valid only during it.
//!
//! Callbacks: one listener per consumer (registering again replaces it). It runs on up to
//! `SetPushConsumerThreadCount` library threads, one message per call even with a batch size
//! above 1 (the first failure fails the batch). Return 0 to acknowledge; **any other value**
//! means "consume again later". No callback runs after `ShutdownPushConsumer` returns.
//!
//! Poll mode (rocketmq-rs addition, for bindings whose code must run on their own threads):
//! `RegisterMessagePolling` instead of a callback, then `PollPushConsumer` hands out
//! `CConsumeRequest*`s to answer with `AckConsumeRequest`.

#![allow(non_camel_case_types)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long, c_longlong};
use std::ptr;
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use rocketmq::client::blocking;
use rocketmq::client::{
    ClientConfig, ConsumeContext, ConsumeFromWhere, ConsumeResult, ConsumerConfig, MessageExt,
    MessageModel,
};
use rocketmq::protocol::bodies::MessageQueue;

use crate::abi::{CConsumeFromWhere, CLogLevel, CMessageModel, CTraceModel};
use crate::boundary::{
    c_string, ffi_boundary, opt_str, req_str, status, value_or, FfiError, FfiResult,
};
use crate::c_common::CStatus;
use crate::c_message_ext::CMessageExt;
use crate::c_message_queue::CMessageQueue;
use crate::callback_gate::CallbackGate;
use crate::client_settings::{
    check_namesrv, refuse_ssl, set_instance_name, set_namesrv_address, set_namesrv_domain,
    set_session_credentials, ClientSettings,
};
use crate::convert::{client_error, from_message_ext, to_c_queue};
use crate::handles::Registry;
use crate::message::{MessageObj, MESSAGES};
use crate::poll_queue::{PollQueue, Polled};

/// Opaque push consumer.
pub struct CPushConsumer {
    _private: [u8; 0],
}

/// Opaque batch of messages handed out by `PollPushConsumer` (rocketmq-rs addition).
pub struct CConsumeRequest {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CConsumeStatus {
    E_CONSUME_SUCCESS = 0,
    E_RECONSUME_LATER = 1,
}

/// Consumes one message. 0 acknowledges it; any other value means "consume again later".
pub type MessageCallBack =
    Option<unsafe extern "C" fn(consumer: *mut CPushConsumer, msg: *mut CMessageExt) -> c_int>;

/// How often a library thread waiting for a polled request's answer checks for shutdown.
const ANSWER_WAIT_SLICE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy)]
enum Listener {
    None,
    Callback {
        callback: MessageCallBack,
        orderly: bool,
    },
    Poll {
        orderly: bool,
    },
}

impl Listener {
    fn orderly(self) -> Option<bool> {
        match self {
            Listener::None => None,
            Listener::Callback { orderly, .. } | Listener::Poll { orderly } => Some(orderly),
        }
    }
}

struct Settings {
    config: ConsumerConfig,
    namesrv_domain: Option<String>,
    /// topic → (expression, SQL92?)
    subscriptions: BTreeMap<String, (String, bool)>,
    group_c: CString,
}

impl ClientSettings for Settings {
    fn client(&mut self) -> &mut ClientConfig {
        &mut self.config.client
    }
    fn namesrv_domain(&mut self) -> &mut Option<String> {
        &mut self.namesrv_domain
    }
}

pub(crate) struct PushObj {
    settings: Mutex<Settings>,
    /// Read by the running listener at each delivery, so (un)registering takes effect at once.
    listener: Arc<RwLock<Listener>>,
    client: RwLock<Option<blocking::PushConsumer>>,
    gate: Arc<CallbackGate>,
    requests: Arc<PollQueue<RequestObj>>,
    version: CString,
}

static CONSUMERS: Registry<PushObj> = Registry::new("push consumer");

fn as_obj(c: *mut CPushConsumer) -> *mut PushObj {
    c as *mut PushObj
}

unsafe fn consumer_ref<'a>(c: *mut CPushConsumer) -> FfiResult<&'a PushObj> {
    // SAFETY: checked by the registry; C must not destroy a consumer while using it.
    unsafe { CONSUMERS.get(as_obj(c)) }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Creates a push consumer of group `groupId` (copied); NULL `groupId` returns NULL. Starts
/// from the last offset for a new group, batch size 1, one thread per core.
#[no_mangle]
pub unsafe extern "C" fn CreatePushConsumer(groupId: *const c_char) -> *mut CPushConsumer {
    ffi_boundary!(ptr::null_mut(), {
        crate::logging::init();
        // SAFETY: C string alive for this call.
        let Some(group) = value_or(unsafe { opt_str(groupId) }, None) else {
            return ptr::null_mut();
        };
        let config = ConsumerConfig {
            group: group.clone(),
            consume_from_where: ConsumeFromWhere::LastOffset,
            consume_batch_max_size: 1,
            consume_thread_nums: default_threads(),
            ..ConsumerConfig::default()
        };
        CONSUMERS.insert(PushObj {
            settings: Mutex::new(Settings {
                config,
                namesrv_domain: None,
                subscriptions: BTreeMap::new(),
                group_c: c_string(&group),
            }),
            listener: Arc::new(RwLock::new(Listener::None)),
            client: RwLock::new(None),
            gate: Arc::new(CallbackGate::default()),
            requests: Arc::new(PollQueue::default()),
            version: c_string(&crate::VERSION_C.to_string_lossy()),
        }) as *mut CPushConsumer
    })
}

fn shutdown(obj: &PushObj) {
    let client = obj.client.write().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(c) = client {
        c.shutdown();
    }
    for r in obj.requests.close() {
        r.answer(false);
    }
    obj.gate.close(Duration::ZERO);
}

/// Frees a consumer, shutting it down first if it is running.
#[no_mangle]
pub unsafe extern "C" fn DestroyPushConsumer(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(CONSUMERS.remove(as_obj(consumer)).map(|c| shutdown(&c)))
    })
}

fn listener_fn(
    handle: usize,
    listener: Arc<RwLock<Listener>>,
    gate: Arc<CallbackGate>,
    requests: Arc<PollQueue<RequestObj>>,
) -> blocking::ListenerFn {
    Box::new(move |msgs: &[MessageExt], ctx: &ConsumeContext| {
        let l = *listener.read().unwrap_or_else(|e| e.into_inner());
        let ok = gate.run(|| match l {
            Listener::None => false,
            Listener::Callback { callback: None, .. } => false,
            Listener::Callback {
                callback: Some(cb), ..
            } => msgs.iter().all(|m| {
                let p = MESSAGES.insert(from_message_ext(m));
                // SAFETY: a C function pointer; the message is valid for this call only.
                let r = unsafe { cb(handle as *mut CPushConsumer, p as *mut CMessageExt) };
                let _ = MESSAGES.remove(p);
                r == 0
            }),
            Listener::Poll { .. } => {
                let (tx, rx) = mpsc::channel();
                let req = RequestObj {
                    msgs: msgs
                        .iter()
                        .map(|m| MESSAGES.insert(from_message_ext(m)))
                        .collect(),
                    queue: ctx.queue.clone(),
                    reply: Mutex::new(Some(tx)),
                };
                if let Err(req) = requests.push(req) {
                    drop(req);
                    return false;
                }
                loop {
                    match rx.recv_timeout(ANSWER_WAIT_SLICE) {
                        Ok(ok) => return ok,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return false,
                        Err(mpsc::RecvTimeoutError::Timeout) if gate.is_closed() => return false,
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                    }
                }
            }
        });
        if ok == Some(true) {
            ConsumeResult::Success
        } else {
            ConsumeResult::ReconsumeLater
        }
    })
}

/// Starts consuming. `PUSHCONSUMER_START_FAILED` (20) with a message when no callback is
/// registered, nothing is subscribed, the settings are incomplete or the start fails.
#[no_mangle]
pub unsafe extern "C" fn StartPushConsumer(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::PUSHCONSUMER_START_FAILED as c_int, {
        let code = CStatus::PUSHCONSUMER_START_FAILED;
        status((|| {
            // SAFETY: checked by the registry.
            let obj = unsafe { consumer_ref(consumer) }?;
            let mut slot = obj.client.write().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return Ok(());
            }
            let Some(orderly) = obj
                .listener
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .orderly()
            else {
                return Err(FfiError::new(
                    code,
                    "no message callback: call RegisterMessageCallback (or \
                     RegisterMessageCallbackOrderly) before StartPushConsumer",
                ));
            };
            let (config, subs) = {
                let s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
                check_namesrv(&s.config.client, &s.namesrv_domain, code)?;
                (s.config.clone(), s.subscriptions.clone())
            };
            if subs.is_empty() {
                return Err(FfiError::new(
                    code,
                    "nothing subscribed: call Subscribe before StartPushConsumer",
                ));
            }
            let fail = client_error(code);
            let c = blocking::PushConsumer::new(config).map_err(fail)?;
            for (topic, (expr, sql)) in &subs {
                if *sql {
                    c.subscribe_sql92(topic, expr)
                } else {
                    c.subscribe(topic, expr)
                }
                .map_err(fail)?;
            }
            obj.gate.reopen();
            obj.requests.reopen();
            let l = listener_fn(
                consumer as usize,
                obj.listener.clone(),
                obj.gate.clone(),
                obj.requests.clone(),
            );
            if orderly {
                c.register_message_listener_orderly(l);
            } else {
                c.register_message_listener_concurrently(l);
            }
            c.start().map_err(fail)?;
            *slot = Some(c);
            Ok(())
        })())
    })
}

/// Stops consuming: offsets are committed, running callbacks finish, and no callback runs
/// after it returns. Always `OK` for a live handle. A stopped consumer can be started again.
#[no_mangle]
pub unsafe extern "C" fn ShutdownPushConsumer(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { consumer_ref(consumer) }.map(shutdown))
    })
}

/// The library version text; NULL for a NULL handle. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn ShowPushConsumerVersion(consumer: *mut CPushConsumer) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { consumer_ref(consumer) }.map_or(ptr::null(), |c| c.version.as_ptr())
    })
}

/// Applies a setting; read at the next `StartPushConsumer`.
unsafe fn set(
    consumer: *mut CPushConsumer,
    f: impl FnOnce(&mut Settings) -> FfiResult<()>,
) -> c_int {
    status((|| {
        // SAFETY: checked by the registry.
        let obj = unsafe { consumer_ref(consumer) }?;
        let mut s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })())
}

fn out_of_range(what: &str) -> FfiError {
    FfiError::new(CStatus::NULL_POINTER, format!("{what} is out of range"))
}

/// A count or size that must be positive.
fn positive(value: c_int, what: &str) -> FfiResult<usize> {
    usize::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| out_of_range(what))
}

#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerGroupID(
    consumer: *mut CPushConsumer,
    groupId: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe {
            set(consumer, |s| {
                let g = req_str(groupId, "groupId")?;
                s.group_c = c_string(&g);
                s.config.group = g;
                Ok(())
            })
        }
    })
}

/// The group. Borrowed: valid until the group is set again or the consumer destroyed.
#[no_mangle]
pub unsafe extern "C" fn GetPushConsumerGroupID(consumer: *mut CPushConsumer) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry. The CString's heap buffer outlives the lock guard
        // until the group is replaced (C's contract: not concurrently).
        unsafe { consumer_ref(consumer) }.map_or(ptr::null(), |c| {
            c.settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .group_c
                .as_ptr()
        })
    })
}

/// Name servers, "host:port;host:port" (copied).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerNameServerAddress(
    consumer: *mut CPushConsumer,
    namesrv: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_namesrv_address(s, namesrv)) }
    })
}

/// Recorded, but looking name servers up over HTTP is not supported: set an address too.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerNameServerDomain(
    consumer: *mut CPushConsumer,
    domain: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_namesrv_domain(s, domain)) }
    })
}

unsafe fn subscribe(
    consumer: *mut CPushConsumer,
    topic: *const c_char,
    expression: *const c_char,
    sql: bool,
) -> c_int {
    // SAFETY: C strings alive for this call.
    unsafe {
        set(consumer, |s| {
            let t = req_str(topic, "topic")?;
            let e = opt_str(expression)?
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "*".into());
            s.subscriptions.insert(t, (e, sql));
            Ok(())
        })
    }
}

/// Subscribes to `topic` with a tag expression (`*`, `TagA`, `TagA || TagB`; NULL = `*`).
/// Read at `StartPushConsumer`; subscribing the same topic again replaces the expression.
#[no_mangle]
pub unsafe extern "C" fn Subscribe(
    consumer: *mut CPushConsumer,
    topic: *const c_char,
    expression: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: forwarded.
        unsafe { subscribe(consumer, topic, expression, false) }
    })
}

/// rocketmq-rs addition: subscribes with an SQL92 expression over message properties, e.g.
/// `a BETWEEN 0 AND 3 AND TAGS = 'x'` (the broker must have `enablePropertyFilter=true`).
#[no_mangle]
pub unsafe extern "C" fn SubscribeSQL92(
    consumer: *mut CPushConsumer,
    topic: *const c_char,
    expression: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if expression.is_null() {
            crate::boundary::set_latest_error("expression is NULL");
            return CStatus::NULL_POINTER as c_int;
        }
        // SAFETY: forwarded.
        unsafe { subscribe(consumer, topic, expression, true) }
    })
}

/// rocketmq-rs addition: removes a subscription (also from a running consumer).
#[no_mangle]
pub unsafe extern "C" fn Unsubscribe(consumer: *mut CPushConsumer, topic: *const c_char) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status((|| {
            // SAFETY: checked by the registry; C string alive for this call.
            let obj = unsafe { consumer_ref(consumer) }?;
            let t = unsafe { req_str(topic, "topic") }?;
            obj.settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .subscriptions
                .remove(&t);
            if let Some(c) = obj
                .client
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                c.unsubscribe(&t);
            }
            Ok(())
        })())
    })
}

unsafe fn register(consumer: *mut CPushConsumer, l: Listener) -> c_int {
    status((|| {
        // SAFETY: checked by the registry.
        let obj = unsafe { consumer_ref(consumer) }?;
        *obj.listener.write().unwrap_or_else(|e| e.into_inner()) = l;
        Ok(())
    })())
}

/// Registers the callback, consumed concurrently. Replaces any previous one.
#[no_mangle]
pub unsafe extern "C" fn RegisterMessageCallback(
    consumer: *mut CPushConsumer,
    pCallback: MessageCallBack,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if pCallback.is_none() {
            crate::boundary::set_latest_error("pCallback is NULL");
            return CStatus::NULL_POINTER as c_int;
        }
        // SAFETY: checked by the registry.
        unsafe {
            register(
                consumer,
                Listener::Callback {
                    callback: pCallback,
                    orderly: false,
                },
            )
        }
    })
}

/// Registers the callback, consumed in order: one message at a time per queue, under a broker
/// lock in clustering mode. Replaces any previous one.
#[no_mangle]
pub unsafe extern "C" fn RegisterMessageCallbackOrderly(
    consumer: *mut CPushConsumer,
    pCallback: MessageCallBack,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if pCallback.is_none() {
            crate::boundary::set_latest_error("pCallback is NULL");
            return CStatus::NULL_POINTER as c_int;
        }
        // SAFETY: checked by the registry.
        unsafe {
            register(
                consumer,
                Listener::Callback {
                    callback: pCallback,
                    orderly: true,
                },
            )
        }
    })
}

/// Removes the callback; a running consumer then asks for every delivery to be retried later.
#[no_mangle]
pub unsafe extern "C" fn UnregisterMessageCallback(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { register(consumer, Listener::None) }
    })
}

/// As `UnregisterMessageCallback`.
#[no_mangle]
pub unsafe extern "C" fn UnregisterMessageCallbackOrderly(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { register(consumer, Listener::None) }
    })
}

/// Threads running the callback (> 0).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerThreadCount(
    consumer: *mut CPushConsumer,
    threadCount: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consume_thread_nums = positive(threadCount, "threadCount")?;
                Ok(())
            })
        }
    })
}

/// Most messages per delivery (> 0; each still reaches the callback on its own).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMessageBatchMaxSize(
    consumer: *mut CPushConsumer,
    batchSize: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consume_batch_max_size = positive(batchSize, "batchSize")?;
                Ok(())
            })
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerInstanceName(
    consumer: *mut CPushConsumer,
    instanceName: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_instance_name(s, instanceName)) }
    })
}

/// ACL credentials (copied). `channel` is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerSessionCredentials(
    consumer: *mut CPushConsumer,
    accessKey: *const c_char,
    secretKey: *const c_char,
    channel: *const c_char,
) -> c_int {
    let _ = channel;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C strings alive for this call.
        unsafe {
            set(consumer, |s| {
                set_session_credentials(s, accessKey, secretKey)
            })
        }
    })
}

/// Accepted and ignored: rocketmq-rs logs through `RUST_LOG` to stderr.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerLogPath(
    consumer: *mut CPushConsumer,
    logPath: *const c_char,
) -> c_int {
    let _ = logPath;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// Accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerLogFileNumAndSize(
    consumer: *mut CPushConsumer,
    fileNum: c_int,
    fileSize: c_long,
) -> c_int {
    let _ = (fileNum, fileSize);
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// Accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerLogLevel(
    consumer: *mut CPushConsumer,
    level: CLogLevel,
) -> c_int {
    let _ = level;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// `CLUSTERING` (default) or `BROADCASTING`.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMessageModel(
    consumer: *mut CPushConsumer,
    messageModel: CMessageModel,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.message_model = match messageModel {
                    0 => MessageModel::Broadcasting,
                    1 => MessageModel::Clustering,
                    _ => return Err(out_of_range("messageModel")),
                };
                Ok(())
            })
        }
    })
}

/// Stop pulling a queue with this many messages cached (> 0; default 1000).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMaxCacheMessageSize(
    consumer: *mut CPushConsumer,
    maxCacheSize: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.pull_threshold_for_queue = positive(maxCacheSize, "maxCacheSize")?;
                Ok(())
            })
        }
    })
}

/// Stop pulling a queue with this many MiB cached (> 0). librocketmq answers `Not_Support`;
/// rocketmq-rs supports it.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMaxCacheMessageSizeInMb(
    consumer: *mut CPushConsumer,
    maxCacheSizeInMb: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.pull_threshold_size_for_queue_mib =
                    positive(maxCacheSizeInMb, "maxCacheSizeInMb")?;
                Ok(())
            })
        }
    })
}

/// Accepted and ignored: rocketmq-rs clients do not send message traces.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMessageTrace(
    consumer: *mut CPushConsumer,
    openTrace: CTraceModel,
) -> c_int {
    let _ = openTrace;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// TLS is not supported: 0 is accepted, anything else is `Not_Support` (500).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerSsl(
    consumer: *mut CPushConsumer,
    enableSsl: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| refuse_ssl(enableSsl)) }
    })
}

/// Accepted and ignored (TLS is not supported).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerSslPropertyFile(
    consumer: *mut CPushConsumer,
    sslPropertyFile: *const c_char,
) -> c_int {
    let _ = sslPropertyFile;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// rocketmq-rs addition: where a new group starts (`CConsumeFromWhere`; default last offset).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerConsumeFromWhere(
    consumer: *mut CPushConsumer,
    consumeFromWhere: CConsumeFromWhere,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consume_from_where = consume_from_where(consumeFromWhere)?;
                Ok(())
            })
        }
    })
}

pub(crate) fn consume_from_where(v: CConsumeFromWhere) -> FfiResult<ConsumeFromWhere> {
    Ok(match v {
        0 => ConsumeFromWhere::LastOffset,
        1 => ConsumeFromWhere::FirstOffset,
        2 => ConsumeFromWhere::Timestamp,
        _ => return Err(out_of_range("consumeFromWhere")),
    })
}

/// rocketmq-rs addition: the time `CONSUME_FROM_TIMESTAMP` starts from, in milliseconds since
/// the epoch.
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerConsumeTimestamp(
    consumer: *mut CPushConsumer,
    timestampMs: c_longlong,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                s.config.consume_timestamp_ms = timestampMs;
                Ok(())
            })
        }
    })
}

/// rocketmq-rs addition: deliveries of a failing message before it goes to the dead-letter
/// queue (-1 = default: 16 concurrently, unlimited orderly).
#[no_mangle]
pub unsafe extern "C" fn SetPushConsumerMaxReconsumeTimes(
    consumer: *mut CPushConsumer,
    times: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(consumer, |s| {
                if times < -1 {
                    return Err(out_of_range("times"));
                }
                s.config.max_reconsume_times = times;
                Ok(())
            })
        }
    })
}

/// rocketmq-rs addition: stops pulling (cached messages are still delivered) until
/// `ResumePushConsumer`.
#[no_mangle]
pub unsafe extern "C" fn SuspendPushConsumer(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { consumer_ref(consumer) }.map(|c| {
            if let Some(c) = c.client.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
                c.suspend()
            }
        }))
    })
}

/// rocketmq-rs addition: resumes pulling after `SuspendPushConsumer`.
#[no_mangle]
pub unsafe extern "C" fn ResumePushConsumer(consumer: *mut CPushConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { consumer_ref(consumer) }.map(|c| {
            if let Some(c) = c.client.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
                c.resume()
            }
        }))
    })
}

/// rocketmq-rs addition: the messages of `topic` this consumer has yet to consume on the queues
/// now assigned to it (rocketmq-client-go's `GetOffsetDiffMap`, one topic): the sum over them
/// of the broker's max offset minus the group's offset, after committing the offsets consumed
/// so far. `*queues` (may be NULL) gets how many queues of `topic` are assigned; with none,
/// `*diff` is 0. Clustering consumers only (a broadcasting one keeps its offsets locally):
/// otherwise, or when a broker cannot be asked, `PUSHCONSUMER_START_FAILED` (20);
/// `PUSHCONSUMER_NOT_RUNNING` (21) when the consumer is not started.
#[no_mangle]
pub unsafe extern "C" fn GetPushConsumerOffsetDiff(
    consumer: *mut CPushConsumer,
    topic: *const c_char,
    diff: *mut c_longlong,
    queues: *mut c_int,
) -> c_int {
    ffi_boundary!(CStatus::PUSHCONSUMER_START_FAILED as c_int, {
        status((|| {
            // SAFETY: checked by the registry; C string alive for this call.
            let obj = unsafe { consumer_ref(consumer) }?;
            let topic = unsafe { req_str(topic, "topic") }?;
            if diff.is_null() {
                return Err(FfiError::null("diff"));
            }
            let client = obj
                .client
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .ok_or_else(|| {
                    FfiError::new(
                        CStatus::PUSHCONSUMER_NOT_RUNNING,
                        "the push consumer is not started",
                    )
                })?;
            let config = obj
                .settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .config
                .clone();
            let assigned: Vec<MessageQueue> = client
                .assigned_queues()
                .into_iter()
                .filter(|q| q.topic == topic)
                .collect();
            let total = crate::offset_diff::of_queues(&client, &config, &assigned)
                .map_err(client_error(CStatus::PUSHCONSUMER_START_FAILED))?;
            // SAFETY: `diff` checked non-NULL; `queues` NULL or writable, as documented.
            unsafe {
                *diff = total;
                if !queues.is_null() {
                    *queues = assigned.len() as c_int;
                }
            }
            Ok(())
        })())
    })
}

// ---- poll mode ----

pub(crate) struct RequestObj {
    msgs: Vec<*mut MessageObj>,
    queue: MessageQueue,
    reply: Mutex<Option<mpsc::Sender<bool>>>,
}

// SAFETY: the message pointers are registry-owned heap objects reached only through the
// registry; a request moves from the library thread that made it to the thread answering it.
unsafe impl Send for RequestObj {}
// SAFETY: as above; the reply sender is behind a mutex.
unsafe impl Sync for RequestObj {}

impl RequestObj {
    fn answer(&self, ok: bool) {
        if let Some(tx) = self.reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(ok);
        }
    }
}

impl Drop for RequestObj {
    fn drop(&mut self) {
        self.answer(false);
        for m in &self.msgs {
            let _ = MESSAGES.remove(*m);
        }
    }
}

static REQUESTS: Registry<RequestObj> = Registry::new("consume request");

/// rocketmq-rs addition: deliveries wait in a queue for `PollPushConsumer` instead of going to
/// a callback (`orderly` != 0 for orderly consumption). Replaces any callback.
#[no_mangle]
pub unsafe extern "C" fn RegisterMessagePolling(
    consumer: *mut CPushConsumer,
    orderly: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            register(
                consumer,
                Listener::Poll {
                    orderly: orderly != 0,
                },
            )
        }
    })
}

/// rocketmq-rs addition: waits up to `timeoutMs` for a delivery. `OK` with `*request` an owned
/// `CConsumeRequest*` (answer it with `AckConsumeRequest`, which frees it), or `OK` with
/// `*request` NULL on timeout; `PUSHCONSUMER_NOT_RUNNING` (21) once the consumer is shut down.
#[no_mangle]
pub unsafe extern "C" fn PollPushConsumer(
    consumer: *mut CPushConsumer,
    timeoutMs: c_int,
    request: *mut *mut CConsumeRequest,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status((|| {
            if request.is_null() {
                return Err(FfiError::null("request"));
            }
            // SAFETY: checked by the registry; `request` checked non-NULL.
            let obj = unsafe { consumer_ref(consumer) }?;
            unsafe { request.write(ptr::null_mut()) };
            match obj
                .requests
                .pop(Duration::from_millis(timeoutMs.max(0) as u64))
            {
                Polled::Item(r) => {
                    unsafe { request.write(REQUESTS.insert(r) as *mut CConsumeRequest) };
                    Ok(())
                }
                Polled::TimedOut => Ok(()),
                Polled::Closed => Err(FfiError::new(
                    CStatus::PUSHCONSUMER_NOT_RUNNING,
                    "the push consumer is shut down",
                )),
            }
        })())
    })
}

unsafe fn request_ref<'a>(r: *mut CConsumeRequest) -> Option<&'a RequestObj> {
    // SAFETY: checked by the registry.
    unsafe { REQUESTS.get(r as *const RequestObj) }.ok()
}

/// rocketmq-rs addition: how many messages the request holds (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn GetConsumeRequestMessageCount(request: *mut CConsumeRequest) -> c_int {
    ffi_boundary!(0, {
        // SAFETY: checked by the registry.
        unsafe { request_ref(request) }.map_or(0, |r| r.msgs.len() as c_int)
    })
}

/// rocketmq-rs addition: message `index` of the request. Borrowed: valid until the request is
/// acknowledged.
#[no_mangle]
pub unsafe extern "C" fn GetConsumeRequestMessage(
    request: *mut CConsumeRequest,
    index: c_int,
) -> *mut CMessageExt {
    ffi_boundary!(ptr::null_mut(), {
        // SAFETY: checked by the registry.
        unsafe { request_ref(request) }
            .and_then(|r| r.msgs.get(usize::try_from(index).ok()?))
            .map_or(ptr::null_mut(), |m| *m as *mut CMessageExt)
    })
}

/// rocketmq-rs addition: copies the queue the messages come from into `*mq` (caller memory).
#[no_mangle]
pub unsafe extern "C" fn GetConsumeRequestMessageQueue(
    request: *mut CConsumeRequest,
    mq: *mut CMessageQueue,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry; `mq` checked non-NULL.
        match (unsafe { request_ref(request) }, mq.is_null()) {
            (Some(r), false) => {
                unsafe { mq.write(to_c_queue(&r.queue)) };
                CStatus::OK as c_int
            }
            _ => CStatus::NULL_POINTER as c_int,
        }
    })
}

/// rocketmq-rs addition: answers a request (0 = consumed; any other value = consume again
/// later) and frees it with its messages.
#[no_mangle]
pub unsafe extern "C" fn AckConsumeRequest(
    request: *mut CConsumeRequest,
    consumeStatus: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(
            REQUESTS
                .remove(request as *mut RequestObj)
                .map(|r| r.answer(consumeStatus == 0)),
        )
    })
}
