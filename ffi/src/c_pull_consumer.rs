//! `CPullConsumer.h`: the plain pull consumer: you choose queues and offsets; nothing is
//! committed for you.
//!
//! Ownership: `CreatePullConsumer` returns an owned handle (`ShutdownPullConsumer`, then
//! `DestroyPullConsumer`). `FetchSubscriptionMessageQueues` returns a `malloc`ed array freed
//! by `ReleaseSubscriptionMessageQueue`. `Pull` returns a `CPullResult` by value whose
//! `msgFoundList`, messages and `pData` stay valid until it is passed to `ReleasePullResult`.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_long, c_longlong, c_void};
use std::ptr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use rocketmq::client::blocking::block_on;
use rocketmq::client::lite_pull_consumer::LitePullConfig;
use rocketmq::client::{ClientConfig, LitePullConsumer, PullStatus};

use crate::abi::{CLogLevel, CPullResult};
use crate::boundary::{
    c_string, ffi_boundary, opt_str, req_str, set_latest_error, status, value_or, FfiError,
    FfiResult,
};
use crate::c_common::CStatus;
use crate::c_message_queue::{write_queue_array, CMessageQueue};
use crate::c_pull_result::CPullStatus;
use crate::client_settings::{
    check_namesrv, refuse_ssl, set_namesrv_address, set_namesrv_domain, set_session_credentials,
    ClientSettings,
};
use crate::convert::{client_error, from_c_queue};
use crate::handles::Registry;
use crate::received::{make_list, ReceivedList, LISTS};

/// Opaque pull consumer.
pub struct CPullConsumer {
    _private: [u8; 0],
}

/// Budget of one `Pull` request.
const PULL_TIMEOUT: Duration = Duration::from_secs(10);

struct Settings {
    config: LitePullConfig,
    namesrv_domain: Option<String>,
    group_c: CString,
}

impl ClientSettings for Settings {
    fn client(&mut self) -> &mut ClientConfig {
        &mut self.config.consumer.client
    }
    fn namesrv_domain(&mut self) -> &mut Option<String> {
        &mut self.namesrv_domain
    }
}

pub(crate) struct PullObj {
    settings: Mutex<Settings>,
    client: RwLock<Option<LitePullConsumer>>,
    version: CString,
}

static PULL_CONSUMERS: Registry<PullObj> = Registry::new("pull consumer");

fn as_obj(c: *mut CPullConsumer) -> *mut PullObj {
    c as *mut PullObj
}

unsafe fn consumer_ref<'a>(c: *mut CPullConsumer) -> FfiResult<&'a PullObj> {
    // SAFETY: checked by the registry; C must not destroy a consumer while using it.
    unsafe { PULL_CONSUMERS.get(as_obj(c)) }
}

/// Creates a pull consumer of group `groupId` (copied); NULL `groupId` returns NULL.
#[no_mangle]
pub unsafe extern "C" fn CreatePullConsumer(groupId: *const c_char) -> *mut CPullConsumer {
    ffi_boundary!(ptr::null_mut(), {
        crate::logging::init();
        // SAFETY: C string alive for this call.
        let Some(group) = value_or(unsafe { opt_str(groupId) }, None) else {
            return ptr::null_mut();
        };
        let mut config = LitePullConfig::new("", &group);
        config.consumer.client = ClientConfig::default();
        // The application keeps its own offsets with a plain pull consumer.
        config.auto_commit = false;
        PULL_CONSUMERS.insert(PullObj {
            settings: Mutex::new(Settings {
                config,
                namesrv_domain: None,
                group_c: c_string(&group),
            }),
            client: RwLock::new(None),
            version: c_string(&crate::VERSION_C.to_string_lossy()),
        }) as *mut CPullConsumer
    })
}

fn shutdown(obj: &PullObj) {
    let client = obj.client.write().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(c) = client {
        block_on(c.shutdown());
    }
}

#[no_mangle]
pub unsafe extern "C" fn DestroyPullConsumer(consumer: *mut CPullConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(
            PULL_CONSUMERS
                .remove(as_obj(consumer))
                .map(|c| shutdown(&c)),
        )
    })
}

/// `PULLCONSUMER_START_FAILED` (30) with a message on failure.
#[no_mangle]
pub unsafe extern "C" fn StartPullConsumer(consumer: *mut CPullConsumer) -> c_int {
    ffi_boundary!(CStatus::PULLCONSUMER_START_FAILED as c_int, {
        let code = CStatus::PULLCONSUMER_START_FAILED;
        status((|| {
            // SAFETY: checked by the registry.
            let obj = unsafe { consumer_ref(consumer) }?;
            let mut slot = obj.client.write().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return Ok(());
            }
            let config = {
                let s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
                check_namesrv(&s.config.consumer.client, &s.namesrv_domain, code)?;
                s.config.clone()
            };
            let c = LitePullConsumer::new(config).map_err(client_error(code))?;
            block_on(c.start()).map_err(client_error(code))?;
            *slot = Some(c);
            Ok(())
        })())
    })
}

/// Always `OK` for a live handle.
#[no_mangle]
pub unsafe extern "C" fn ShutdownPullConsumer(consumer: *mut CPullConsumer) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe { consumer_ref(consumer) }.map(shutdown))
    })
}

/// The library version text; NULL for a NULL handle. Borrowed.
#[no_mangle]
pub unsafe extern "C" fn ShowPullConsumerVersion(consumer: *mut CPullConsumer) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { consumer_ref(consumer) }.map_or(ptr::null(), |c| c.version.as_ptr())
    })
}

unsafe fn set(
    consumer: *mut CPullConsumer,
    f: impl FnOnce(&mut Settings) -> FfiResult<()>,
) -> c_int {
    status((|| {
        // SAFETY: checked by the registry.
        let obj = unsafe { consumer_ref(consumer) }?;
        let mut s = obj.settings.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })())
}

#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerGroupID(
    consumer: *mut CPullConsumer,
    groupId: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe {
            set(consumer, |s| {
                let g = req_str(groupId, "groupId")?;
                s.group_c = c_string(&g);
                s.config.consumer.group = g;
                Ok(())
            })
        }
    })
}

/// The group. Borrowed: valid until the group is set again or the consumer destroyed.
#[no_mangle]
pub unsafe extern "C" fn GetPullConsumerGroupID(consumer: *mut CPullConsumer) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry; see `GetPushConsumerGroupID`.
        unsafe { consumer_ref(consumer) }.map_or(ptr::null(), |c| {
            c.settings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .group_c
                .as_ptr()
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerNameServerAddress(
    consumer: *mut CPullConsumer,
    namesrv: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_namesrv_address(s, namesrv)) }
    })
}

/// Recorded, but looking name servers up over HTTP is not supported: set an address too.
#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerNameServerDomain(
    consumer: *mut CPullConsumer,
    domain: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: C string alive for this call.
        unsafe { set(consumer, |s| set_namesrv_domain(s, domain)) }
    })
}

#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerSessionCredentials(
    consumer: *mut CPullConsumer,
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

/// Accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerLogPath(
    consumer: *mut CPullConsumer,
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
pub unsafe extern "C" fn SetPullConsumerLogFileNumAndSize(
    consumer: *mut CPullConsumer,
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
pub unsafe extern "C" fn SetPullConsumerLogLevel(
    consumer: *mut CPullConsumer,
    level: CLogLevel,
) -> c_int {
    let _ = level;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

/// TLS is not supported: 0 is accepted, anything else is `Not_Support` (500).
#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerSsl(
    consumer: *mut CPullConsumer,
    enableSsl: c_int,
) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| refuse_ssl(enableSsl)) }
    })
}

/// Accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn SetPullConsumerSslPropertyFile(
    consumer: *mut CPullConsumer,
    sslPropertyFile: *const c_char,
) -> c_int {
    let _ = sslPropertyFile;
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        unsafe { set(consumer, |_| Ok(())) }
    })
}

fn running(obj: &PullObj, code: CStatus) -> FfiResult<LitePullConsumer> {
    obj.client
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| {
            FfiError::new(
                code,
                "the pull consumer is not started; call StartPullConsumer first",
            )
        })
}

/// The readable queues of `topic`: a `malloc`ed array of `*size` entries in `*mqs`, freed by
/// `ReleaseSubscriptionMessageQueue`. `PULLCONSUMER_FETCH_MQ_FAILED` (31) on failure.
#[no_mangle]
pub unsafe extern "C" fn FetchSubscriptionMessageQueues(
    consumer: *mut CPullConsumer,
    topic: *const c_char,
    mqs: *mut *mut CMessageQueue,
    size: *mut c_int,
) -> c_int {
    ffi_boundary!(CStatus::PULLCONSUMER_FETCH_MQ_FAILED as c_int, {
        let code = CStatus::PULLCONSUMER_FETCH_MQ_FAILED;
        status((|| {
            if mqs.is_null() || size.is_null() {
                return Err(FfiError::null("mqs/size"));
            }
            // SAFETY: checked by the registry; C string alive for this call.
            let obj = unsafe { consumer_ref(consumer) }?;
            let topic = unsafe { req_str(topic, "topic") }?;
            let queues = block_on(running(obj, code)?.fetch_message_queues(&topic))
                .map_err(client_error(code))?;
            // SAFETY: out-pointers checked non-NULL.
            unsafe { write_queue_array(&queues, mqs, size) }
        })())
    })
}

/// Frees an array from `FetchSubscriptionMessageQueues` (or `FetchPublishMessageQueues`,
/// `LitePullConsumerFetchMessageQueues`). NULL is `NULL_POINTER`.
#[no_mangle]
pub unsafe extern "C" fn ReleaseSubscriptionMessageQueue(mqs: *mut CMessageQueue) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if mqs.is_null() {
            return CStatus::NULL_POINTER as c_int;
        }
        // SAFETY: the array came from `malloc` in `write_queue_array` (the documented contract).
        unsafe { crate::abi::free(mqs as *mut c_void) };
        CStatus::OK as c_int
    })
}

fn empty_result(s: CPullStatus) -> CPullResult {
    CPullResult {
        pull_status: s as c_int,
        next_begin_offset: 0,
        min_offset: 0,
        max_offset: 0,
        msg_found_list: ptr::null_mut(),
        size: 0,
        p_data: ptr::null_mut(),
    }
}

/// Pulls up to `maxNums` messages of `mq` matching the tag expression `subExpression` (NULL =
/// `*`) from `offset`. On failure `pullStatus` is `E_BROKER_TIMEOUT` and
/// `GetLatestErrorMessage` says why. Pass the result to `ReleasePullResult`.
#[no_mangle]
pub unsafe extern "C" fn Pull(
    consumer: *mut CPullConsumer,
    mq: *const CMessageQueue,
    subExpression: *const c_char,
    offset: c_longlong,
    maxNums: c_int,
) -> CPullResult {
    ffi_boundary!(empty_result(CPullStatus::E_BROKER_TIMEOUT), {
        let code = CStatus::PULLCONSUMER_FETCH_MESSAGE_FAILED;
        let r = (|| -> FfiResult<CPullResult> {
            // SAFETY: checked by the registry; `mq` NULL or one CMessageQueue; C string alive.
            let obj = unsafe { consumer_ref(consumer) }?;
            let q = unsafe { mq.as_ref() }.ok_or_else(|| FfiError::null("mq"))?;
            let expr = unsafe { opt_str(subExpression) }?
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "*".into());
            let c = running(obj, code)?;
            let r = block_on(c.pull(&from_c_queue(q), &expr, offset, maxNums, PULL_TIMEOUT))
                .map_err(client_error(code))?;
            let (list, data) = make_list(&r.msgs);
            Ok(CPullResult {
                pull_status: match r.status {
                    PullStatus::Found => CPullStatus::E_FOUND,
                    PullStatus::NoNewMsg => CPullStatus::E_NO_NEW_MSG,
                    PullStatus::NoMatchedMsg => CPullStatus::E_NO_MATCHED_MSG,
                    PullStatus::OffsetIllegal => CPullStatus::E_OFFSET_ILLEGAL,
                } as c_int,
                next_begin_offset: r.next_begin_offset,
                min_offset: r.min_offset,
                max_offset: r.max_offset,
                msg_found_list: list,
                size: r.msgs.len() as c_int,
                p_data: data as *mut c_void,
            })
        })();
        match r {
            Ok(r) => r,
            Err(e) => {
                if let Some(m) = &e.message {
                    set_latest_error(m);
                }
                empty_result(CPullStatus::E_BROKER_TIMEOUT)
            }
        }
    })
}

/// Frees what a `Pull` result holds. `NULL_POINTER` when there is nothing to free (no
/// messages), as librocketmq.
#[no_mangle]
pub unsafe extern "C" fn ReleasePullResult(pullResult: CPullResult) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        if pullResult.size == 0
            || pullResult.msg_found_list.is_null()
            || pullResult.p_data.is_null()
        {
            return CStatus::NULL_POINTER as c_int;
        }
        status(
            LISTS
                .remove(pullResult.p_data as *mut ReceivedList)
                .map(drop),
        )
    })
}
