//! `CProducer.h`: producers (plain, orderly, transactional) and every way of sending.
//!
//! Ownership: `Create*Producer` returns an owned handle; call `ShutdownProducer` then
//! `DestroyProducer`. Settings are read at `StartProducer`. Messages and batches stay owned by
//! the caller; `SendAsync` hands the caller's `CMessage*` back to its callbacks, so keep it
//! alive until one of them has run. `CSendResult` is caller memory, filled only on `OK`.
//!
//! Threads: sends may be called from any thread, concurrently on one handle. Async-send
//! callbacks and transaction checks run on library threads; none runs after `ShutdownProducer`
//! returns (it waits for running ones, and up to the send timeout for async sends in flight).
//!
//! Status codes: setters, start and shutdown fail with `PRODUCER_START_FAILED` (10); sync
//! sends 11, one-way 12, orderly 13, async 14, orderly async 15, transaction 16, request 17
//! (18 when no reply came in time); a NULL or dead handle, or a NULL required argument, is
//! `NULL_POINTER` (1).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long, c_longlong, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use rocketmq::client::blocking;
use rocketmq::client::message::{MessageExt, SendResult};
use rocketmq::client::producer::{
    LocalTransactionState, Producer, ProducerConfig, TransactionListener, TransactionProducer,
};
use rocketmq::client::{ClientConfig, ClientError, Message};
use rocketmq::protocol::bodies::MessageQueue;

use crate::abi::{CLogLevel, CTraceModel, CTransactionStatus};
use crate::boundary::{
    c_string, ffi_boundary, opt_str, req_str, status, value_or, FfiError, FfiResult,
};
use crate::c_batch_message::{as_vec, CBatchMessage, BATCHES};
use crate::c_common::{CStatus, DEFAULT_SDK_VERSION};
use crate::c_message::{msg_ref, CMessage};
use crate::c_message_ext::CMessageExt;
use crate::c_message_queue::CMessageQueue;
use crate::c_mq_exception::CMQException;
use crate::c_send_result::{CSendResult, CSendStatus};
use crate::callback_gate::CallbackGate;
use crate::client_settings::{
    check_namesrv, refuse_ssl, set_instance_name, set_namesrv_address, set_namesrv_domain,
    set_session_credentials, ClientSettings,
};
use crate::convert::{
    client_error, from_c_queue, from_message_ext, send_status, to_c_queue, to_c_send_result,
    to_client_message,
};
use crate::handles::Registry;
use crate::message::{MessageObj, MESSAGES};
use crate::poll_queue::{PollQueue, Polled};

/// Opaque producer.
pub struct CProducer {
    _private: [u8; 0],
}

/// Opaque, detailed outcome of a send (rocketmq-rs addition; see `SendMessageWithReceipt`).
pub struct CSendReceipt {
    _private: [u8; 0],
}

/// Opaque pending transaction check (rocketmq-rs addition; see `PollTransactionCheck`).
pub struct CTransactionCheck {
    _private: [u8; 0],
}

/// Picks the queue for a message: returns an index in `[0, size)`. Called on the sending
/// thread, possibly again on a retry. `msg` is the message being sent.
pub type QueueSelectorCallback =
    Option<unsafe extern "C" fn(size: c_int, msg: *mut CMessage, arg: *mut c_void) -> c_int>;
/// Async send succeeded; `result` by value. Runs on a library thread.
pub type CSendSuccessCallback = Option<unsafe extern "C" fn(result: CSendResult)>;
/// Async send failed; `e` by value. Runs on a library thread.
pub type CSendExceptionCallback = Option<unsafe extern "C" fn(e: CMQException)>;
/// Async send succeeded; `msg` and `userData` are what the caller passed to `SendAsync`.
pub type COnSendSuccessCallback =
    Option<unsafe extern "C" fn(result: CSendResult, msg: *mut CMessage, userData: *mut c_void)>;
/// Async send failed; `msg` and `userData` are what the caller passed to `SendAsync`.
pub type COnSendExceptionCallback =
    Option<unsafe extern "C" fn(e: CMQException, msg: *mut CMessage, userData: *mut c_void)>;
/// Answers the broker asking about an undecided transaction. `msg` is valid only during the
/// call; `data` is the `userData` given to `CreateTransactionProducer`. Runs on a library
/// thread. 0 commit, 1 rollback, anything else unknown (asked again later).
pub type CLocalTransactionCheckerCallback = Option<
    unsafe extern "C" fn(
        producer: *mut CProducer,
        msg: *mut CMessageExt,
        data: *mut c_void,
    ) -> CTransactionStatus,
>;
/// Runs the local transaction after the half message was stored, on the thread that called
/// `SendMessageTransaction`. `msg` is the caller's message; `data` the `userData` given to
/// `SendMessageTransaction`. 0 commit, 1 rollback, anything else unknown.
pub type CLocalTransactionExecutorCallback = Option<
    unsafe extern "C" fn(
        producer: *mut CProducer,
        msg: *mut CMessage,
        data: *mut c_void,
    ) -> CTransactionStatus,
>;

/// How long a transaction check waits for an answer from a poll-mode binding before telling
/// the broker "unknown" (it asks again later).
const CHECK_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Slack on top of the send timeout that `ShutdownProducer` waits for async sends in flight.
const SHUTDOWN_ASYNC_SLACK: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Orderly,
    Transaction {
        checker: CLocalTransactionCheckerCallback,
        /// The checker's `userData`, kept as an address: C owns it.
        user_data: usize,
    },
}

#[derive(Clone)]
enum Client {
    Plain(blocking::Producer),
    Transaction(TransactionProducer),
}

impl Client {
    /// The (async) producer that sends; a transaction producer sends plain messages through
    /// its inner one.
    fn producer(&self) -> Producer {
        match self {
            Client::Plain(p) => p.as_async().clone(),
            Client::Transaction(t) => t.producer().clone(),
        }
    }
}

struct Settings {
    config: ProducerConfig,
    namesrv_domain: Option<String>,
}

impl ClientSettings for Settings {
    fn client(&mut self) -> &mut ClientConfig {
        &mut self.config.client
    }
    fn namesrv_domain(&mut self) -> &mut Option<String> {
        &mut self.namesrv_domain
    }
}

pub(crate) struct ProducerObj {
    kind: Kind,
    settings: Mutex<Settings>,
    client: RwLock<Option<Client>>,
    gate: Arc<CallbackGate>,
    checks: Arc<PollQueue<TxCheckObj>>,
    poll_checks: AtomicBool,
    version: CString,
}

static PRODUCERS: Registry<ProducerObj> = Registry::new("producer");

fn as_obj(p: *mut CProducer) -> *mut ProducerObj {
    p as *mut ProducerObj
}

unsafe fn producer_ref<'a>(p: *mut CProducer) -> FfiResult<&'a ProducerObj> {
    // SAFETY: checked by the registry; C must not destroy a producer while using it.
    unsafe { PRODUCERS.get(as_obj(p)) }
}

fn create(group: *const c_char, kind: Kind) -> *mut CProducer {
    crate::logging::init();
    // SAFETY: `group` is NULL or a C string alive for this call.
    let group = match value_or(unsafe { opt_str(group) }, None) {
        Some(g) => g,
        None => return ptr::null_mut(),
    };
    let config = ProducerConfig {
        group,
        // librocketmq's defaults: 5 retries of a sync send, 1 of an async one.
        retry_times_when_send_failed: 5,
        retry_times_when_send_async_failed: 1,
        ..ProducerConfig::default()
    };
    PRODUCERS.insert(ProducerObj {
        kind,
        settings: Mutex::new(Settings {
            config,
            namesrv_domain: None,
        }),
        client: RwLock::new(None),
        gate: Arc::new(CallbackGate::default()),
        checks: Arc::new(PollQueue::default()),
        poll_checks: AtomicBool::new(false),
        version: c_string(&format!(
            "{} (C ABI {})",
            crate::VERSION_C.to_string_lossy(),
            crate::c_common::ROCKETMQ_RS_ABI_VERSION
        )),
    }) as *mut CProducer
}

/// Creates a producer of group `groupId` (copied). NULL `groupId` returns NULL.
/// Ownership: the caller owns the handle (`ShutdownProducer`, then `DestroyProducer`).
#[no_mangle]
pub unsafe extern "C" fn CreateProducer(groupId: *const c_char) -> *mut CProducer {
    ffi_boundary!(ptr::null_mut(), { create(groupId, Kind::Plain) })
}

/// Same as `CreateProducer` (ordering comes from the `SendMessageOrderly*` calls).
#[no_mangle]
pub unsafe extern "C" fn CreateOrderlyProducer(groupId: *const c_char) -> *mut CProducer {
    ffi_boundary!(ptr::null_mut(), { create(groupId, Kind::Orderly) })
}

/// Creates a transactional producer. `callback` answers the broker's checks of undecided
/// transactions with `userData` (kept, never freed, by the library). Plain sends work on it too.
#[no_mangle]
pub unsafe extern "C" fn CreateTransactionProducer(
    groupId: *const c_char,
    callback: CLocalTransactionCheckerCallback,
    userData: *mut c_void,
) -> *mut CProducer {
    ffi_boundary!(ptr::null_mut(), {
        create(
            groupId,
            Kind::Transaction {
                checker: callback,
                user_data: userData as usize,
            },
        )
    })
}

fn shutdown(obj: &ProducerObj) {
    let client = obj.client.write().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(c) = client {
        let budget = obj
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .send_timeout
            + SHUTDOWN_ASYNC_SLACK;
        // Async sends in flight get their callbacks (up to the send timeout), then the gate
        // closes so nothing calls back into C after we return.
        obj.gate.close(budget);
        match c {
            Client::Plain(p) => p.shutdown(),
            Client::Transaction(t) => blocking::block_on(t.shutdown()),
        }
    }
    obj.gate.close(Duration::ZERO);
    for check in obj.checks.close() {
        check.answer(LocalTransactionState::Unknown);
    }
}

/// Frees a producer, shutting it down first if it is running.
#[no_mangle]
pub unsafe extern "C" fn DestroyProducer(producer: *mut CProducer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(PRODUCERS.remove(as_obj(producer)).map(|p| shutdown(&p)))
    })
}

/// Starts the producer with the settings made so far. `PRODUCER_START_FAILED` (10) with a
/// message when the settings are incomplete or the name server cannot be reached.
#[no_mangle]
pub unsafe extern "C" fn StartProducer(producer: *mut CProducer) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        status((|| {
            // SAFETY: checked by the registry.
            let obj = unsafe { producer_ref(producer) }?;
            let mut slot = obj.client.write().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return Ok(());
            }
            let config = {
                let s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
                check_namesrv(
                    &s.config.client,
                    &s.namesrv_domain,
                    CStatus::PRODUCER_START_FAILED,
                )?;
                s.config.clone()
            };
            let fail = client_error(CStatus::PRODUCER_START_FAILED);
            obj.gate.reopen();
            obj.checks.reopen();
            let client = match obj.kind {
                Kind::Plain | Kind::Orderly => {
                    let p = blocking::Producer::new(config).map_err(&fail)?;
                    p.start().map_err(fail)?;
                    Client::Plain(p)
                }
                Kind::Transaction { checker, user_data } => {
                    let listener = Arc::new(CheckListener {
                        producer: producer as usize,
                        checker,
                        user_data,
                        gate: obj.gate.clone(),
                        checks: obj.checks.clone(),
                        poll: obj.poll_checks.load(Ordering::SeqCst),
                    });
                    let t = TransactionProducer::new(config, listener).map_err(&fail)?;
                    blocking::block_on(t.start()).map_err(fail)?;
                    Client::Transaction(t)
                }
            };
            *slot = Some(client);
            Ok(())
        })())
    })
}

/// Stops the producer: waits for async sends in flight (up to the send timeout) and for
/// running callbacks, then closes connections. A stopped producer can be started again.
#[no_mangle]
pub unsafe extern "C" fn ShutdownProducer(producer: *mut CProducer) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { producer_ref(producer) }.map(shutdown))
    })
}

/// The library version text. Borrowed from the producer; "DefaultVersion" for NULL.
#[no_mangle]
pub unsafe extern "C" fn ShowProducerVersion(producer: *mut CProducer) -> *const c_char {
    ffi_boundary!(DEFAULT_SDK_VERSION.as_ptr(), {
        // SAFETY: checked by the registry.
        match unsafe { producer_ref(producer) } {
            Ok(p) => p.version.as_ptr(),
            Err(_) => DEFAULT_SDK_VERSION.as_ptr(),
        }
    })
}

/// Applies a setting; read at the next `StartProducer`.
unsafe fn set(producer: *mut CProducer, f: impl FnOnce(&mut Settings) -> FfiResult<()>) -> c_int {
    status((|| {
        // SAFETY: checked by the registry.
        let obj = unsafe { producer_ref(producer) }?;
        let mut s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })())
}

fn bad_setting(what: &str) -> FfiError {
    FfiError::new(CStatus::PRODUCER_START_FAILED, what.to_string())
}

/// Name servers, "host:port;host:port" (copied).
#[no_mangle]
pub unsafe extern "C" fn SetProducerNameServerAddress(
    producer: *mut CProducer,
    namesrv: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(producer, |s| set_namesrv_address(s, namesrv)) }
    })
}

/// Recorded, but looking name servers up over HTTP is not supported: set an address too.
#[no_mangle]
pub unsafe extern "C" fn SetProducerNameServerDomain(
    producer: *mut CProducer,
    domain: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(producer, |s| set_namesrv_domain(s, domain)) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetProducerGroupName(
    producer: *mut CProducer,
    groupName: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: C string alive for this call.
        unsafe {
            set(producer, |s| {
                s.config.group = req_str(groupName, "groupName")?;
                Ok(())
            })
        }
    })
}

/// Instance name (part of the client id). "DEFAULT" gives each client a unique one.
#[no_mangle]
pub unsafe extern "C" fn SetProducerInstanceName(
    producer: *mut CProducer,
    instanceName: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(producer, |s| set_instance_name(s, instanceName)) }
    })
}

/// ACL credentials (copied). `onsChannel` is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetProducerSessionCredentials(
    producer: *mut CProducer,
    accessKey: *const c_char,
    secretKey: *const c_char,
    onsChannel: *const c_char,
) -> c_int {
    let _ = onsChannel;
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: C strings alive for this call.
        unsafe {
            set(producer, |s| {
                set_session_credentials(s, accessKey, secretKey)
            })
        }
    })
}

/// Accepted and ignored: rocketmq-rs logs through `RUST_LOG` to stderr.
#[no_mangle]
pub unsafe extern "C" fn SetProducerLogPath(
    producer: *mut CProducer,
    logPath: *const c_char,
) -> c_int {
    let _ = logPath;
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| Ok(())) }
    })
}

/// Accepted and ignored (see `SetProducerLogPath`).
#[no_mangle]
pub unsafe extern "C" fn SetProducerLogFileNumAndSize(
    producer: *mut CProducer,
    fileNum: c_int,
    fileSize: c_long,
) -> c_int {
    let _ = (fileNum, fileSize);
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| Ok(())) }
    })
}

/// Accepted and ignored (see `SetProducerLogPath`).
#[no_mangle]
pub unsafe extern "C" fn SetProducerLogLevel(producer: *mut CProducer, level: CLogLevel) -> c_int {
    let _ = level;
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| Ok(())) }
    })
}

/// Budget of one send including its retries, in milliseconds (> 0; default 3000).
#[no_mangle]
pub unsafe extern "C" fn SetProducerSendMsgTimeout(
    producer: *mut CProducer,
    timeout: c_int,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(producer, |s| {
                if timeout <= 0 {
                    return Err(bad_setting(
                        "the send timeout must be positive (milliseconds)",
                    ));
                }
                s.config.send_timeout = Duration::from_millis(timeout as u64);
                Ok(())
            })
        }
    })
}

/// zlib level of compressed bodies, 0..9 (-1 = default 5).
#[no_mangle]
pub unsafe extern "C" fn SetProducerCompressLevel(producer: *mut CProducer, level: c_int) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(producer, |s| {
                s.config.compress_level = match level {
                    -1 => 5,
                    0..=9 => level as u32,
                    _ => return Err(bad_setting("the compress level must be -1 or 0..9")),
                };
                Ok(())
            })
        }
    })
}

/// Largest body accepted, in bytes (> 0; default 4 MiB).
#[no_mangle]
pub unsafe extern "C" fn SetProducerMaxMessageSize(producer: *mut CProducer, size: c_int) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(producer, |s| {
                if size <= 0 {
                    return Err(bad_setting("the max message size must be positive (bytes)"));
                }
                s.config.max_message_bytes = size as usize;
                Ok(())
            })
        }
    })
}

/// Bodies of at least `howmuch` bytes are zlib-compressed (default 4096). Exported without a
/// declaration by librocketmq; declared here.
#[no_mangle]
pub unsafe extern "C" fn SetProducerCompressMsgBodyOverHowmuch(
    producer: *mut CProducer,
    howmuch: c_int,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(producer, |s| {
                if howmuch < 0 {
                    return Err(bad_setting(
                        "the compression threshold must not be negative",
                    ));
                }
                s.config.compress_over_bytes = howmuch as usize;
                Ok(())
            })
        }
    })
}

/// rocketmq-rs addition: extra attempts of a failed sync send on another queue (default 5;
/// async sends get `min(times, 1)`... see `SetProducerRetryTimes` in the docs).
#[no_mangle]
pub unsafe extern "C" fn SetProducerRetryTimes(producer: *mut CProducer, times: c_int) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe {
            set(producer, |s| {
                if times < 0 {
                    return Err(bad_setting("retry times must not be negative"));
                }
                s.config.retry_times_when_send_failed = times as u32;
                s.config.retry_times_when_send_async_failed = times as u32;
                Ok(())
            })
        }
    })
}

/// Accepted and ignored: rocketmq-rs clients do not send message traces.
#[no_mangle]
pub unsafe extern "C" fn SetProducerMessageTrace(
    producer: *mut CProducer,
    openTrace: CTraceModel,
) -> c_int {
    let _ = openTrace;
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| Ok(())) }
    })
}

/// TLS is not supported: 0 is accepted, anything else is `Not_Support` (500).
#[no_mangle]
pub unsafe extern "C" fn SetProducerSsl(producer: *mut CProducer, enableSsl: c_int) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| refuse_ssl(enableSsl)) }
    })
}

/// Accepted and ignored (TLS is not supported).
#[no_mangle]
pub unsafe extern "C" fn SetProducerSslPropertyFile(
    producer: *mut CProducer,
    sslPropertyFile: *const c_char,
) -> c_int {
    let _ = sslPropertyFile;
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(producer, |_| Ok(())) }
    })
}

/// The running client, or `code` with "not started".
unsafe fn running(
    producer: *mut CProducer,
    code: CStatus,
) -> FfiResult<(&'static ProducerObj, Client)> {
    // SAFETY: checked by the registry.
    let obj = unsafe { producer_ref(producer) }?;
    let client = obj
        .client
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| {
            FfiError::new(
                code,
                "the producer is not started; call StartProducer first",
            )
        })?;
    Ok((obj, client))
}

/// The client settings of a producer (name servers, credentials, timeouts), for the calls of
/// `CTopicAdmin.h`, which need no running producer. `code` when no name server is set.
pub(crate) unsafe fn client_settings(
    producer: *mut CProducer,
    code: CStatus,
) -> FfiResult<ClientConfig> {
    // SAFETY: checked by the registry.
    let obj = unsafe { producer_ref(producer) }?;
    let s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
    check_namesrv(&s.config.client, &s.namesrv_domain, code)?;
    Ok(s.config.client.clone())
}

unsafe fn message(msg: *mut CMessage) -> FfiResult<Message> {
    // SAFETY: checked by the registry.
    Ok(to_client_message(unsafe { msg_ref(msg) }?))
}

unsafe fn fill(result: *mut CSendResult, r: &SendResult) -> FfiResult<()> {
    if result.is_null() {
        return Err(FfiError::null("result"));
    }
    // SAFETY: the caller passes memory for one CSendResult.
    unsafe { result.write(to_c_send_result(r)) };
    Ok(())
}

/// Sends `msg` and waits for the broker; retries on other queues. Fills `result` on `OK`;
/// `PRODUCER_SEND_SYNC_FAILED` (11) otherwise.
#[no_mangle]
pub unsafe extern "C" fn SendMessageSync(
    producer: *mut CProducer,
    msg: *mut CMessage,
    result: *mut CSendResult,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_SYNC_FAILED as c_int, {
        status((|| {
            if result.is_null() {
                return Err(FfiError::null("result"));
            }
            // SAFETY: handles checked by their registries; `result` checked above.
            let (_, client) = unsafe { running(producer, CStatus::PRODUCER_SEND_SYNC_FAILED) }?;
            let m = unsafe { message(msg) }?;
            let r = blocking::block_on(client.producer().send(m))
                .map_err(client_error(CStatus::PRODUCER_SEND_SYNC_FAILED))?;
            unsafe { fill(result, &r) }
        })())
    })
}

/// Sends the batch as one request (all messages must share a topic). Fills `result` (its
/// `msgId` lists the ids, comma separated, truncated to 255 bytes) on `OK`; 11 otherwise.
#[no_mangle]
pub unsafe extern "C" fn SendBatchMessage(
    producer: *mut CProducer,
    msg: *mut CBatchMessage,
    result: *mut CSendResult,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_SYNC_FAILED as c_int, {
        status((|| {
            if result.is_null() {
                return Err(FfiError::null("result"));
            }
            // SAFETY: handles checked by their registries.
            let (_, client) = unsafe { running(producer, CStatus::PRODUCER_SEND_SYNC_FAILED) }?;
            let batch = unsafe { BATCHES.get(as_vec(msg)) }?;
            let msgs: Vec<Message> = batch.iter().map(to_client_message).collect();
            let r = blocking::block_on(client.producer().send_batch(msgs))
                .map_err(client_error(CStatus::PRODUCER_SEND_SYNC_FAILED))?;
            unsafe { fill(result, &r) }
        })())
    })
}

fn exception(code: CStatus, e: &ClientError) -> CMQException {
    CMQException::new(
        e.response_code().unwrap_or(code as i32),
        &format!("{:?}", e.kind()),
        &e.to_string(),
        file!(),
        line!(),
    )
}

/// Starts an async send whose outcome goes to `on_done` (through the producer's gate).
unsafe fn send_async_with(
    producer: *mut CProducer,
    msg: *mut CMessage,
    code: CStatus,
    on_done: impl Fn(Result<SendResult, ClientError>) + Send + Sync + 'static,
) -> FfiResult<()> {
    // SAFETY: handles checked by their registries.
    let (obj, client) = unsafe { running(producer, code) }?;
    let m = unsafe { message(msg) }?;
    let gate = obj.gate.clone();
    gate.add_pending();
    let g = gate.clone();
    let r = {
        // The callback is spawned on the client runtime.
        let _rt = blocking::runtime().enter();
        client.producer().send_with_callback(m, move |r| {
            g.run_pending(|| on_done(r));
        })
    };
    r.map_err(|e| {
        gate.drop_pending();
        client_error(code)(e)
    })
}

/// Sends in the background: one of the callbacks runs later on a library thread (a NULL one is
/// skipped). `PRODUCER_SEND_ASYNC_FAILED` (14) if the send cannot even start.
#[no_mangle]
pub unsafe extern "C" fn SendMessageAsync(
    producer: *mut CProducer,
    msg: *mut CMessage,
    cSendSuccessCallback: CSendSuccessCallback,
    cSendExceptionCallback: CSendExceptionCallback,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ASYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ASYNC_FAILED;
        // SAFETY: handles checked; the callbacks are C function pointers valid until shutdown.
        status(unsafe {
            send_async_with(producer, msg, code, move |r| match r {
                Ok(res) => {
                    if let Some(f) = cSendSuccessCallback {
                        f(to_c_send_result(&res))
                    }
                }
                Err(e) => {
                    if let Some(f) = cSendExceptionCallback {
                        f(exception(code, &e))
                    }
                }
            })
        })
    })
}

/// Like `SendMessageAsync`, and the callbacks also get `msg` (the caller's, so keep it alive
/// until a callback ran) and `userData`.
#[no_mangle]
pub unsafe extern "C" fn SendAsync(
    producer: *mut CProducer,
    msg: *mut CMessage,
    cSendSuccessCallback: COnSendSuccessCallback,
    cSendExceptionCallback: COnSendExceptionCallback,
    userData: *mut c_void,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ASYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ASYNC_FAILED;
        let (m, u) = (msg as usize, userData as usize);
        // SAFETY: as `SendMessageAsync`; `msg` and `userData` are handed back untouched.
        status(unsafe {
            send_async_with(producer, msg, code, move |r| match r {
                Ok(res) => {
                    if let Some(f) = cSendSuccessCallback {
                        f(to_c_send_result(&res), m as *mut CMessage, u as *mut c_void)
                    }
                }
                Err(e) => {
                    if let Some(f) = cSendExceptionCallback {
                        f(exception(code, &e), m as *mut CMessage, u as *mut c_void)
                    }
                }
            })
        })
    })
}

/// Sends without waiting for the broker. `PRODUCER_SEND_ONEWAY_FAILED` (12) if it could not be
/// written.
#[no_mangle]
pub unsafe extern "C" fn SendMessageOneway(producer: *mut CProducer, msg: *mut CMessage) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ONEWAY_FAILED as c_int, {
        status((|| {
            // SAFETY: handles checked by their registries.
            let (_, client) = unsafe { running(producer, CStatus::PRODUCER_SEND_ONEWAY_FAILED) }?;
            let m = unsafe { message(msg) }?;
            blocking::block_on(client.producer().send_oneway(m))
                .map_err(client_error(CStatus::PRODUCER_SEND_ONEWAY_FAILED))
        })())
    })
}

/// Asks the C selector for a queue among the topic's writable ones.
unsafe fn select_queue(
    client: &Client,
    m: &Message,
    msg: *mut CMessage,
    selector: QueueSelectorCallback,
    arg: *mut c_void,
    code: CStatus,
) -> FfiResult<MessageQueue> {
    let selector = selector.ok_or_else(|| FfiError::null("selector"))?;
    let queues = blocking::block_on(client.producer().fetch_publish_queues(&m.topic))
        .map_err(client_error(code))?;
    if queues.is_empty() {
        return Err(FfiError::new(
            code,
            format!("topic '{}' has no writable queue", m.topic),
        ));
    }
    // SAFETY: a C function pointer, called synchronously with the caller's own arguments.
    let i = unsafe { selector(queues.len() as c_int, msg, arg) };
    usize::try_from(i)
        .ok()
        .and_then(|i| queues.get(i).cloned())
        .ok_or_else(|| {
            FfiError::new(
                code,
                format!(
                    "the queue selector returned {i}; the topic has {} queues",
                    queues.len()
                ),
            )
        })
}

/// One-way send to the queue `selector` picks. 12 on failure. (Sent and acknowledged like a
/// sync send: the core client has no one-way send to a chosen queue.)
#[no_mangle]
pub unsafe extern "C" fn SendMessageOnewayOrderly(
    producer: *mut CProducer,
    msg: *mut CMessage,
    selector: QueueSelectorCallback,
    arg: *mut c_void,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ONEWAY_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ONEWAY_FAILED;
        status((|| {
            // SAFETY: handles checked; selector called synchronously.
            let (_, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let mq = unsafe { select_queue(&client, &m, msg, selector, arg, code) }?;
            blocking::block_on(client.producer().send_to_queue(m, &mq))
                .map(drop)
                .map_err(client_error(code))
        })())
    })
}

/// Sends to the queue `callback` picks (called with `arg`), trying up to `autoRetryTimes`
/// more times. Fills `result` on `OK`; `PRODUCER_SEND_ORDERLY_FAILED` (13) otherwise.
#[no_mangle]
pub unsafe extern "C" fn SendMessageOrderly(
    producer: *mut CProducer,
    msg: *mut CMessage,
    callback: QueueSelectorCallback,
    arg: *mut c_void,
    autoRetryTimes: c_int,
    result: *mut CSendResult,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ORDERLY_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ORDERLY_FAILED;
        status((|| {
            if result.is_null() {
                return Err(FfiError::null("result"));
            }
            // SAFETY: handles checked; selector called synchronously.
            let (_, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let mut last = None;
            for _ in 0..=autoRetryTimes.max(0) {
                let mq = unsafe { select_queue(&client, &m, msg, callback, arg, code) }?;
                match blocking::block_on(client.producer().send_to_queue(m.clone(), &mq)) {
                    Ok(r) => return unsafe { fill(result, &r) },
                    Err(e) => last = Some(e),
                }
            }
            Err(client_error(code)(last.expect("at least one attempt")))
        })())
    })
}

/// Picks the queue with `callback` now, then sends in the background; 15 if it cannot start.
#[no_mangle]
pub unsafe extern "C" fn SendMessageOrderlyAsync(
    producer: *mut CProducer,
    msg: *mut CMessage,
    callback: QueueSelectorCallback,
    arg: *mut c_void,
    cSendSuccessCallback: CSendSuccessCallback,
    cSendExceptionCallback: CSendExceptionCallback,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ORDERLYASYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ORDERLYASYNC_FAILED;
        status((|| {
            // SAFETY: handles checked; selector called synchronously.
            let (obj, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let mq = unsafe { select_queue(&client, &m, msg, callback, arg, code) }?;
            let gate = obj.gate.clone();
            gate.add_pending();
            let p = client.producer();
            blocking::runtime().spawn(async move {
                let r = p.send_to_queue(m, &mq).await;
                gate.run_pending(|| match r {
                    // SAFETY: C function pointers valid until the producer shuts down, which
                    // waits for this callback.
                    Ok(res) => {
                        if let Some(f) = cSendSuccessCallback {
                            unsafe { f(to_c_send_result(&res)) }
                        }
                    }
                    Err(e) => {
                        if let Some(f) = cSendExceptionCallback {
                            unsafe { f(exception(code, &e)) }
                        }
                    }
                });
            });
            Ok(())
        })())
    })
}

/// Ordered send: messages with the same `shardingKey` go to the same queue (hash of the key);
/// sets property `__SHARDINGKEY`. Up to 3 attempts. Fills `result`; 13 on failure.
#[no_mangle]
pub unsafe extern "C" fn SendMessageOrderlyByShardingKey(
    producer: *mut CProducer,
    msg: *mut CMessage,
    shardingKey: *const c_char,
    result: *mut CSendResult,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_ORDERLY_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_ORDERLY_FAILED;
        status((|| {
            if result.is_null() {
                return Err(FfiError::null("result"));
            }
            // SAFETY: handles checked; C string alive for this call.
            let (_, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let key = unsafe { req_str(shardingKey, "shardingKey") }?;
            let mut last = None;
            for _ in 0..3 {
                match blocking::block_on(client.producer().send_orderly(m.clone(), &key)) {
                    Ok(r) => return unsafe { fill(result, &r) },
                    Err(e) => last = Some(e),
                }
            }
            Err(client_error(code)(last.expect("three attempts")))
        })())
    })
}

fn transaction_state(s: CTransactionStatus) -> LocalTransactionState {
    match s {
        0 => LocalTransactionState::CommitMessage,
        1 => LocalTransactionState::RollbackMessage,
        _ => LocalTransactionState::Unknown,
    }
}

fn transaction_status(s: LocalTransactionState) -> CTransactionStatus {
    match s {
        LocalTransactionState::CommitMessage => 0,
        LocalTransactionState::RollbackMessage => 1,
        LocalTransactionState::Unknown => 2,
    }
}

/// Sends a half message, runs `callback` (the local transaction) on this thread if it was
/// stored, then commits or rolls back as it answers. Fills `result` with the half message's
/// result; `PRODUCER_SEND_TRANSACTION_FAILED` (16) otherwise (also on a non-transaction
/// producer).
unsafe fn send_transaction(
    producer: *mut CProducer,
    msg: *mut CMessage,
    callback: CLocalTransactionExecutorCallback,
    userData: *mut c_void,
) -> FfiResult<(SendResult, LocalTransactionState)> {
    let code = CStatus::PRODUCER_SEND_TRANSACTION_FAILED;
    // SAFETY: handles checked by their registries.
    let (_, client) = unsafe { running(producer, code) }?;
    let Client::Transaction(t) = client else {
        return Err(FfiError::new(
            code,
            "not a transaction producer: create it with CreateTransactionProducer",
        ));
    };
    let m = unsafe { message(msg) }?;
    let (p, mp, u) = (producer as usize, msg as usize, userData as usize);
    let r = blocking::block_on(
        t.send_message_in_transaction_with(m, move |_, _| match callback {
            // SAFETY: a C function pointer called synchronously on the caller's thread with the
            // caller's own message and data.
            Some(f) => transaction_state(unsafe {
                f(p as *mut CProducer, mp as *mut CMessage, u as *mut c_void)
            }),
            None => LocalTransactionState::Unknown,
        }),
    )
    .map_err(client_error(code))?;
    Ok((r.send_result, r.local_state))
}

#[no_mangle]
pub unsafe extern "C" fn SendMessageTransaction(
    producer: *mut CProducer,
    msg: *mut CMessage,
    callback: CLocalTransactionExecutorCallback,
    userData: *mut c_void,
    result: *mut CSendResult,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_TRANSACTION_FAILED as c_int, {
        status((|| {
            if result.is_null() {
                return Err(FfiError::null("result"));
            }
            // SAFETY: see `send_transaction`; `result` checked above.
            let (r, _) = unsafe { send_transaction(producer, msg, callback, userData) }?;
            unsafe { fill(result, &r) }
        })())
    })
}

// ---- rocketmq-rs additions: detailed results, chosen queues, polled transaction checks ----

struct ReceiptObj {
    status: CSendStatus,
    msg_id: CString,
    offset_msg_id: CString,
    transaction_id: CString,
    region_id: CString,
    queue: CMessageQueue,
    queue_offset: i64,
    local_state: c_int,
}

static RECEIPTS: Registry<ReceiptObj> = Registry::new("send receipt");

fn receipt(r: &SendResult, local_state: Option<LocalTransactionState>) -> *mut CSendReceipt {
    RECEIPTS.insert(ReceiptObj {
        status: send_status(r.status),
        msg_id: c_string(&r.msg_id),
        offset_msg_id: c_string(&r.offset_msg_id),
        transaction_id: c_string(r.transaction_id.as_deref().unwrap_or("")),
        region_id: c_string(r.region_id.as_deref().unwrap_or("")),
        queue: to_c_queue(&r.message_queue),
        queue_offset: r.queue_offset,
        local_state: local_state.map_or(-1, transaction_status),
    }) as *mut CSendReceipt
}

unsafe fn put_receipt(out: *mut *mut CSendReceipt, r: *mut CSendReceipt) {
    // SAFETY: `out` was checked non-NULL by the caller and points to writable memory.
    unsafe { out.write(r) }
}

/// rocketmq-rs addition: sends `msg` and waits, to the queue `mq` if not NULL (no retries on
/// other queues then), else as `SendMessageSync`. On `OK`, `*receipt` is an owned
/// `CSendReceipt*` (free it with `DestroySendReceipt`). 11 on failure.
#[no_mangle]
pub unsafe extern "C" fn SendMessageWithReceipt(
    producer: *mut CProducer,
    msg: *mut CMessage,
    mq: *const CMessageQueue,
    receipt_out: *mut *mut CSendReceipt,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_SYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_SYNC_FAILED;
        status((|| {
            if receipt_out.is_null() {
                return Err(FfiError::null("receipt"));
            }
            // SAFETY: handles checked; `mq` is NULL or points to one CMessageQueue.
            let (_, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let p = client.producer();
            let r = match unsafe { mq.as_ref() } {
                Some(q) => blocking::block_on(p.send_to_queue(m, &from_c_queue(q))),
                None => blocking::block_on(p.send(m)),
            }
            .map_err(client_error(code))?;
            unsafe { put_receipt(receipt_out, receipt(&r, None)) };
            Ok(())
        })())
    })
}

/// rocketmq-rs addition: `SendBatchMessage` with a receipt (see `SendMessageWithReceipt`).
#[no_mangle]
pub unsafe extern "C" fn SendBatchMessageWithReceipt(
    producer: *mut CProducer,
    batch: *mut CBatchMessage,
    receipt_out: *mut *mut CSendReceipt,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_SYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_SYNC_FAILED;
        status((|| {
            if receipt_out.is_null() {
                return Err(FfiError::null("receipt"));
            }
            // SAFETY: handles checked by their registries.
            let (_, client) = unsafe { running(producer, code) }?;
            let msgs: Vec<Message> = unsafe { BATCHES.get(as_vec(batch)) }?
                .iter()
                .map(to_client_message)
                .collect();
            let r = blocking::block_on(client.producer().send_batch(msgs))
                .map_err(client_error(code))?;
            unsafe { put_receipt(receipt_out, receipt(&r, None)) };
            Ok(())
        })())
    })
}

/// rocketmq-rs addition: `SendMessageTransaction` with a receipt, which also tells what the
/// local transaction answered (`GetSendReceiptTransactionState`).
#[no_mangle]
pub unsafe extern "C" fn SendMessageTransactionWithReceipt(
    producer: *mut CProducer,
    msg: *mut CMessage,
    callback: CLocalTransactionExecutorCallback,
    userData: *mut c_void,
    receipt_out: *mut *mut CSendReceipt,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_TRANSACTION_FAILED as c_int, {
        status((|| {
            if receipt_out.is_null() {
                return Err(FfiError::null("receipt"));
            }
            // SAFETY: see `send_transaction`.
            let (r, state) = unsafe { send_transaction(producer, msg, callback, userData) }?;
            unsafe { put_receipt(receipt_out, receipt(&r, Some(state))) };
            Ok(())
        })())
    })
}

/// rocketmq-rs addition: frees a receipt. NULL or dead is `NULL_POINTER`.
#[no_mangle]
pub unsafe extern "C" fn DestroySendReceipt(receipt: *mut CSendReceipt) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(RECEIPTS.remove(receipt as *mut ReceiptObj).map(drop))
    })
}

unsafe fn receipt_ref<'a>(r: *mut CSendReceipt) -> Option<&'a ReceiptObj> {
    // SAFETY: checked by the registry.
    unsafe { RECEIPTS.get(r as *const ReceiptObj) }.ok()
}

/// The send status (a `CSendStatus`); -1 for NULL.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptStatus(receipt: *mut CSendReceipt) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(-1, |r| r.status as c_int)
    })
}

/// The unique message id(s) (comma separated for a batch). Borrowed from the receipt.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptMsgId(receipt: *mut CSendReceipt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(ptr::null(), |r| r.msg_id.as_ptr())
    })
}

/// The broker's offset message id(s). Borrowed from the receipt.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptOffsetMsgId(receipt: *mut CSendReceipt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(ptr::null(), |r| r.offset_msg_id.as_ptr())
    })
}

/// The transaction id ("" if none). Borrowed from the receipt.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptTransactionId(receipt: *mut CSendReceipt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(ptr::null(), |r| r.transaction_id.as_ptr())
    })
}

/// The broker's region id ("" if none). Borrowed from the receipt.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptRegionId(receipt: *mut CSendReceipt) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(ptr::null(), |r| r.region_id.as_ptr())
    })
}

/// The queue offset of the (first) message; -1 for NULL.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptQueueOffset(receipt: *mut CSendReceipt) -> c_longlong {
    ffi_boundary!(-1, {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(-1, |r| r.queue_offset)
    })
}

/// Copies the queue the message went to into `*mq` (caller memory).
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptMessageQueue(
    receipt: *mut CSendReceipt,
    mq: *mut CMessageQueue,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry; `mq` checked non-NULL, points to caller memory.
        match (unsafe { receipt_ref(receipt) }, mq.is_null()) {
            (Some(r), false) => {
                unsafe { mq.write(r.queue) };
                CStatus::OK as c_int
            }
            _ => CStatus::NULL_POINTER as c_int,
        }
    })
}

/// What the local transaction answered (a `CTransactionStatus`), or -1 for a plain send/NULL.
#[no_mangle]
pub unsafe extern "C" fn GetSendReceiptTransactionState(receipt: *mut CSendReceipt) -> c_int {
    ffi_boundary!(-1, {
        // SAFETY: checked by the registry.
        unsafe { receipt_ref(receipt) }.map_or(-1, |r| r.local_state)
    })
}

/// rocketmq-rs addition: the writable queues of `topic`, as a `malloc`ed array of `*size`
/// entries in `*mqs`; free it with `ReleaseSubscriptionMessageQueue` (or `free`).
/// `PRODUCER_SEND_SYNC_FAILED` (11) if the route cannot be fetched.
#[no_mangle]
pub unsafe extern "C" fn FetchPublishMessageQueues(
    producer: *mut CProducer,
    topic: *const c_char,
    mqs: *mut *mut CMessageQueue,
    size: *mut c_int,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_SEND_SYNC_FAILED as c_int, {
        let code = CStatus::PRODUCER_SEND_SYNC_FAILED;
        status((|| {
            if mqs.is_null() || size.is_null() {
                return Err(FfiError::null("mqs/size"));
            }
            // SAFETY: handle checked; C string alive for this call.
            let (_, client) = unsafe { running(producer, code) }?;
            let topic = unsafe { req_str(topic, "topic") }?;
            let queues = blocking::block_on(client.producer().fetch_publish_queues(&topic))
                .map_err(client_error(code))?;
            // SAFETY: out-pointers checked non-NULL above.
            unsafe { crate::c_message_queue::write_queue_array(&queues, mqs, size) }
        })())
    })
}

// ---- transaction checks, callback mode and poll mode ----

struct CheckListener {
    producer: usize,
    checker: CLocalTransactionCheckerCallback,
    user_data: usize,
    gate: Arc<CallbackGate>,
    checks: Arc<PollQueue<TxCheckObj>>,
    poll: bool,
}

impl TransactionListener for CheckListener {
    fn execute_local_transaction(&self, _: &Message, _: &SendResult) -> LocalTransactionState {
        // Sends go through `send_message_in_transaction_with` and their own executor.
        LocalTransactionState::Unknown
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        if self.poll {
            return self.check_by_poll(msg);
        }
        let Some(checker) = self.checker else {
            return LocalTransactionState::Unknown;
        };
        self.gate
            .run(|| {
                let m = MESSAGES.insert(from_message_ext(msg));
                // SAFETY: a C function pointer; the message stays registered (valid) for the
                // duration of the call only.
                let s = unsafe {
                    checker(
                        self.producer as *mut CProducer,
                        m as *mut CMessageExt,
                        self.user_data as *mut c_void,
                    )
                };
                let _ = MESSAGES.remove(m);
                transaction_state(s)
            })
            .unwrap_or(LocalTransactionState::Unknown)
    }
}

impl CheckListener {
    fn check_by_poll(&self, msg: &MessageExt) -> LocalTransactionState {
        let (tx, rx) = mpsc::channel();
        let check = TxCheckObj {
            msg: MESSAGES.insert(from_message_ext(msg)),
            reply: Mutex::new(Some(tx)),
        };
        if let Err(check) = self.checks.push(check) {
            check.answer(LocalTransactionState::Unknown);
            return LocalTransactionState::Unknown;
        }
        rx.recv_timeout(CHECK_ANSWER_TIMEOUT)
            .unwrap_or(LocalTransactionState::Unknown)
    }
}

pub(crate) struct TxCheckObj {
    msg: *mut MessageObj,
    reply: Mutex<Option<mpsc::Sender<LocalTransactionState>>>,
}

// SAFETY: `msg` is a registry-owned heap object only ever reached through the registry; the
// check moves between the library thread that made it and the thread that answers it.
unsafe impl Send for TxCheckObj {}
// SAFETY: as above; the reply sender is behind a mutex.
unsafe impl Sync for TxCheckObj {}

impl TxCheckObj {
    fn answer(&self, s: LocalTransactionState) {
        if let Some(tx) = self.reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(s);
        }
    }
}

impl Drop for TxCheckObj {
    fn drop(&mut self) {
        self.answer(LocalTransactionState::Unknown);
        let _ = MESSAGES.remove(self.msg);
    }
}

static CHECKS: Registry<TxCheckObj> = Registry::new("transaction check");

/// rocketmq-rs addition: answer the broker's transaction checks by polling
/// (`PollTransactionCheck`) instead of through the checker callback, so they run on threads
/// the caller owns. Call before `StartProducer`.
#[no_mangle]
pub unsafe extern "C" fn RegisterTransactionCheckPolling(producer: *mut CProducer) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        status(
            unsafe { producer_ref(producer) }.map(|p| p.poll_checks.store(true, Ordering::SeqCst)),
        )
    })
}

/// rocketmq-rs addition: waits up to `timeoutMs` for a transaction check. `OK` with `*check`
/// an owned `CTransactionCheck*` (answer it with `AnswerTransactionCheck`, which frees it), or
/// `OK` with `*check` NULL on timeout; `PRODUCER_START_FAILED` (10) once the producer is shut
/// down.
#[no_mangle]
pub unsafe extern "C" fn PollTransactionCheck(
    producer: *mut CProducer,
    timeoutMs: c_int,
    check: *mut *mut CTransactionCheck,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_START_FAILED as c_int, {
        status((|| {
            if check.is_null() {
                return Err(FfiError::null("check"));
            }
            // SAFETY: checked by the registry; `check` checked non-NULL.
            let obj = unsafe { producer_ref(producer) }?;
            unsafe { check.write(ptr::null_mut()) };
            match obj
                .checks
                .pop(Duration::from_millis(timeoutMs.max(0) as u64))
            {
                Polled::Item(c) => {
                    unsafe { check.write(CHECKS.insert(c) as *mut CTransactionCheck) };
                    Ok(())
                }
                Polled::TimedOut => Ok(()),
                Polled::Closed => Err(FfiError::new(
                    CStatus::PRODUCER_START_FAILED,
                    "the producer is shut down",
                )),
            }
        })())
    })
}

/// rocketmq-rs addition: the half message being checked. Borrowed from the check.
#[no_mangle]
pub unsafe extern "C" fn GetTransactionCheckMessage(
    check: *mut CTransactionCheck,
) -> *mut CMessageExt {
    ffi_boundary!(ptr::null_mut(), {
        // SAFETY: checked by the registry.
        unsafe { CHECKS.get(check as *const TxCheckObj) }
            .map_or(ptr::null_mut(), |c| c.msg as *mut CMessageExt)
    })
}

/// rocketmq-rs addition: answers a check (0 commit, 1 rollback, other unknown) and frees it.
#[no_mangle]
pub unsafe extern "C" fn AnswerTransactionCheck(
    check: *mut CTransactionCheck,
    status_: CTransactionStatus,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(
            CHECKS
                .remove(check as *mut TxCheckObj)
                .map(|c| c.answer(transaction_state(status_))),
        )
    })
}

// ---- Request-reply (rocketmq-rs addition; RocketMQ 4.6+ RPC over messages) ----

/// A request's reply arrived. `reply` is valid only during the call; `userData` is what the
/// caller passed to `RequestMessageAsync`. Runs on a library thread.
pub type CRequestSuccessCallback =
    Option<unsafe extern "C" fn(reply: *mut CMessageExt, userData: *mut c_void)>;
/// A request failed: its send failed (`e.error` is the broker's response code, or 17), or no
/// reply arrived in time (`e.error` is `PRODUCER_REQUEST_TIMEOUT`, 18). Runs on a library
/// thread.
pub type CRequestExceptionCallback =
    Option<unsafe extern "C" fn(e: CMQException, userData: *mut c_void)>;

/// 18 when no reply came in time, 17 for every other failure of a request.
fn request_status(e: &ClientError) -> CStatus {
    match e {
        ClientError::ReplyTimeout { .. } => CStatus::PRODUCER_REQUEST_TIMEOUT,
        _ => CStatus::PRODUCER_REQUEST_FAILED,
    }
}

fn request_timeout(timeout_millis: c_int) -> FfiResult<Duration> {
    u64::try_from(timeout_millis)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            FfiError::new(
                CStatus::NULL_POINTER,
                format!("timeoutMillis must be above zero (got {timeout_millis})"),
            )
        })
}

/// rocketmq-rs addition: request-reply. Sends `msg` (with `CORRELATION_ID`, `REPLY_TO_CLIENT`
/// and `TTL` added; the caller's message is not changed) and waits up to `timeoutMillis`,
/// sending included, for the reply a consumer sends back (see `CreateReplyMessage`). On `OK`,
/// `*reply` is an owned `CMessageExt*`: free it with `DestroyReplyMessage`.
/// `PRODUCER_REQUEST_TIMEOUT` (18) when no reply arrived in time, `PRODUCER_REQUEST_FAILED`
/// (17) when the send failed; a timeout of 0 or less is `NULL_POINTER` (1).
#[no_mangle]
pub unsafe extern "C" fn RequestMessage(
    producer: *mut CProducer,
    msg: *mut CMessage,
    timeoutMillis: c_int,
    reply: *mut *mut CMessageExt,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_REQUEST_FAILED as c_int, {
        status((|| {
            if reply.is_null() {
                return Err(FfiError::null("reply"));
            }
            let timeout = request_timeout(timeoutMillis)?;
            // SAFETY: handles checked by their registries.
            let (_, client) = unsafe { running(producer, CStatus::PRODUCER_REQUEST_FAILED) }?;
            let m = unsafe { message(msg) }?;
            let r = blocking::block_on(client.producer().request(m, timeout))
                .map_err(|e| FfiError::new(request_status(&e), e.to_string()))?;
            let owned = MESSAGES.insert(from_message_ext(&r)) as *mut CMessageExt;
            // SAFETY: `reply` was checked non-NULL and points to writable memory.
            unsafe { reply.write(owned) };
            Ok(())
        })())
    })
}

/// rocketmq-rs addition: `RequestMessage` in the background. Returns at once; one of the
/// callbacks runs later on a library thread (a NULL one is skipped) with `userData`. The
/// caller's `msg` is copied, so it may be destroyed at once. 17 if the request cannot even
/// start (not started, bad message); 1 for a timeout of 0 or less. A request still waiting
/// when `ShutdownProducer` is called fails with 17 (and its callback runs) if the shutdown
/// can wait for it, else its callback is skipped.
#[no_mangle]
pub unsafe extern "C" fn RequestMessageAsync(
    producer: *mut CProducer,
    msg: *mut CMessage,
    timeoutMillis: c_int,
    onSuccess: CRequestSuccessCallback,
    onException: CRequestExceptionCallback,
    userData: *mut c_void,
) -> c_int {
    ffi_boundary!(CStatus::PRODUCER_REQUEST_FAILED as c_int, {
        status((|| {
            let code = CStatus::PRODUCER_REQUEST_FAILED;
            let timeout = request_timeout(timeoutMillis)?;
            // SAFETY: handles checked by their registries.
            let (obj, client) = unsafe { running(producer, code) }?;
            let m = unsafe { message(msg) }?;
            let user = userData as usize;
            let gate = obj.gate.clone();
            gate.add_pending();
            let g = gate.clone();
            let started = {
                // The callback is spawned on the client runtime.
                let _rt = blocking::runtime().enter();
                client
                    .producer()
                    .request_with_callback(m, timeout, move |r| {
                        g.run_pending(|| match r {
                            Ok(reply) => {
                                if let Some(f) = onSuccess {
                                    let borrowed = MESSAGES.insert(from_message_ext(&reply))
                                        as *mut CMessageExt;
                                    // SAFETY: a C function pointer the caller keeps valid until
                                    // shutdown; `borrowed` lives for the call.
                                    unsafe { f(borrowed, user as *mut c_void) };
                                    let _ = MESSAGES.remove(borrowed as *mut MessageObj);
                                }
                            }
                            Err(e) => {
                                if let Some(f) = onException {
                                    let status = request_status(&e);
                                    // SAFETY: as above.
                                    unsafe { f(exception(status, &e), user as *mut c_void) };
                                }
                            }
                        });
                    })
            };
            started.map_err(|e| {
                gate.drop_pending();
                client_error(code)(e)
            })
        })())
    })
}

/// rocketmq-rs addition: frees a reply returned by `RequestMessage` (or made by
/// `CreateReplyMessage`, which may also be freed with `DestroyMessage`). NULL-safe: a NULL or
/// already freed reply is `NULL_POINTER` (1).
#[no_mangle]
pub unsafe extern "C" fn DestroyReplyMessage(reply: *mut CMessageExt) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(MESSAGES.remove(reply as *mut MessageObj).map(drop))
    })
}

/// rocketmq-rs addition: the reply to a received request message (a `CMessageExt*` given to a
/// consumer callback or returned by a poll; a `CMessage*` is accepted too), as Java's
/// `MessageUtil.createReplyMessage`: topic `<cluster>_REPLY_TOPIC`, the request's
/// `CORRELATION_ID`, `REPLY_TO_CLIENT` and `TTL`, `MSG_TYPE=reply`, and `body` (`len` bytes;
/// may contain NULs). Send it with any started producer (`SendMessageSync`, …). Returns an
/// owned `CMessage*` (free it with `DestroyMessage`); NULL when `request` has no `CLUSTER`
/// property (it was not received from a broker) or an argument is NULL, with the reason in
/// `GetLatestErrorMessage()`.
#[no_mangle]
pub unsafe extern "C" fn CreateReplyMessage(
    request: *mut CMessageExt,
    body: *const c_char,
    len: c_int,
) -> *mut CMessage {
    ffi_boundary!(ptr::null_mut(), {
        value_or(
            (|| {
                let len = usize::try_from(len).map_err(|_| {
                    FfiError::new(CStatus::NULL_POINTER, "len must not be negative")
                })?;
                if body.is_null() && len > 0 {
                    return Err(FfiError::null("body"));
                }
                // SAFETY: checked by the registry.
                let req = unsafe { MESSAGES.get(request as *const MessageObj) }?;
                let props: std::collections::HashMap<String, String> = req.properties().collect();
                let body = if len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the caller passes `len` readable bytes at `body` (checked non-NULL).
                    unsafe { std::slice::from_raw_parts(body as *const u8, len) }.to_vec()
                };
                let reply = rocketmq::client::create_reply_to(&props, body)
                    .map_err(|e| FfiError::new(CStatus::NULL_POINTER, e.to_string()))?;
                let mut obj = MessageObj::new(&reply.topic);
                obj.set_body(&reply.body);
                obj.flag = reply.flag;
                for (k, v) in &reply.properties {
                    obj.set_property(k, v);
                }
                Ok(MESSAGES.insert(obj) as *mut CMessage)
            })(),
            ptr::null_mut(),
        )
    })
}
