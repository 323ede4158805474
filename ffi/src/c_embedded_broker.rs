//! `CEmbeddedBroker.h` (rocketmq-rs addition): a name server and a broker running inside this
//! process, for tests and demos. Clients find it through
//! `GetEmbeddedBrokerNameServerAddress`.
//!
//! Ownership: `CreateEmbeddedBroker` returns an owned handle; `ShutdownEmbeddedBroker` stops
//! it (offsets persisted, store closed, a temporary store removed) and `DestroyEmbeddedBroker`
//! frees it (shutting it down first if needed).

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::path::PathBuf;
use std::ptr;

use rocketmq::embedded::{EmbeddedCluster, EmbeddedConfig};

use crate::boundary::{c_string, empty_c_str, ffi_boundary, opt_str, status, FfiError, FfiResult};
use crate::c_common::CStatus;
use crate::handles::Registry;
use crate::runtime::runtime;

/// Opaque embedded name server + broker.
pub struct CEmbeddedBroker {
    _private: [u8; 0],
}

pub(crate) struct EmbeddedBrokerObj {
    config: EmbeddedConfig,
    cluster: Option<EmbeddedCluster>,
    namesrv_addr: CString,
    broker_addr: CString,
    store_dir: CString,
}

static BROKERS: Registry<EmbeddedBrokerObj> = Registry::new("embedded broker");

fn as_obj(b: *mut CEmbeddedBroker) -> *mut EmbeddedBrokerObj {
    b as *mut EmbeddedBrokerObj
}

unsafe fn with_broker<T>(
    b: *mut CEmbeddedBroker,
    f: impl FnOnce(&mut EmbeddedBrokerObj) -> FfiResult<T>,
) -> FfiResult<T> {
    // SAFETY: checked by the registry; C does not use one handle from two threads at once.
    unsafe { BROKERS.get_mut(as_obj(b)) }.and_then(f)
}

fn not_started(b: &EmbeddedBrokerObj) -> FfiResult<()> {
    if b.cluster.is_some() {
        Err(FfiError::new(
            CStatus::EMBEDDED_BROKER_START_FAILED,
            "the embedded broker is running; shut it down before changing its settings",
        ))
    } else {
        Ok(())
    }
}

/// Creates a stopped embedded broker with default settings: ports chosen by the system,
/// 127.0.0.1, and a temporary store removed at shutdown.
#[no_mangle]
pub extern "C" fn CreateEmbeddedBroker() -> *mut CEmbeddedBroker {
    ffi_boundary!(ptr::null_mut(), {
        crate::logging::init();
        BROKERS.insert(EmbeddedBrokerObj {
            config: EmbeddedConfig::default(),
            cluster: None,
            namesrv_addr: CString::default(),
            broker_addr: CString::default(),
            store_dir: CString::default(),
        }) as *mut CEmbeddedBroker
    })
}

/// Uses `storeDir` as the store directory (kept at shutdown). NULL goes back to a temporary
/// one. Copied. Only before `StartEmbeddedBroker`.
#[no_mangle]
pub unsafe extern "C" fn SetEmbeddedBrokerStoreDir(
    broker: *mut CEmbeddedBroker,
    storeDir: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::EMBEDDED_BROKER_START_FAILED as c_int, {
        // SAFETY: `storeDir` is NULL or a C string alive for this call.
        status(unsafe {
            with_broker(broker, |b| {
                not_started(b)?;
                b.config.store_dir = opt_str(storeDir)?.map(PathBuf::from);
                Ok(())
            })
        })
    })
}

/// Applies `broker.conf` text (`key=value` lines, e.g. `autoCreateTopicEnable=true`) over the
/// defaults. Copied. Only before `StartEmbeddedBroker`.
#[no_mangle]
pub unsafe extern "C" fn SetEmbeddedBrokerProperties(
    broker: *mut CEmbeddedBroker,
    properties: *const c_char,
) -> c_int {
    ffi_boundary!(CStatus::EMBEDDED_BROKER_START_FAILED as c_int, {
        // SAFETY: `properties` is NULL or a C string alive for this call.
        status(unsafe {
            with_broker(broker, |b| {
                not_started(b)?;
                b.config.broker_properties = opt_str(properties)?.unwrap_or_default();
                Ok(())
            })
        })
    })
}

/// Sets the name server and broker ports (0 = any free port, the default). Only before
/// `StartEmbeddedBroker`.
#[no_mangle]
pub unsafe extern "C" fn SetEmbeddedBrokerPorts(
    broker: *mut CEmbeddedBroker,
    nameServerPort: c_int,
    brokerPort: c_int,
) -> c_int {
    ffi_boundary!(CStatus::EMBEDDED_BROKER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe {
            with_broker(broker, |b| {
                not_started(b)?;
                let port = |p: c_int| {
                    u16::try_from(p)
                        .map_err(|_| FfiError::new(CStatus::NULL_POINTER, format!("bad port {p}")))
                };
                b.config.namesrv_port = port(nameServerPort)?;
                b.config.broker_port = port(brokerPort)?;
                Ok(())
            })
        })
    })
}

/// Starts the name server and the broker; returns once clients can use them.
/// `EMBEDDED_BROKER_START_FAILED` (40) with `GetLatestErrorMessage` telling why.
#[no_mangle]
pub unsafe extern "C" fn StartEmbeddedBroker(broker: *mut CEmbeddedBroker) -> c_int {
    ffi_boundary!(CStatus::EMBEDDED_BROKER_START_FAILED as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe {
            with_broker(broker, |b| {
                not_started(b)?;
                let cluster = runtime()
                    .block_on(EmbeddedCluster::start(b.config.clone()))
                    .map_err(|e| FfiError::new(CStatus::EMBEDDED_BROKER_START_FAILED, e))?;
                b.namesrv_addr = c_string(&cluster.namesrv_addr().to_string());
                b.broker_addr = c_string(&cluster.broker_addr().to_string());
                b.store_dir = c_string(&cluster.store_dir().to_string_lossy());
                b.cluster = Some(cluster);
                Ok(())
            })
        })
    })
}

fn shutdown(b: &mut EmbeddedBrokerObj) {
    if let Some(c) = b.cluster.take() {
        runtime().block_on(c.shutdown());
    }
}

/// Stops the broker, then the name server. A stopped broker can be started again. OK even if
/// not running.
#[no_mangle]
pub unsafe extern "C" fn ShutdownEmbeddedBroker(broker: *mut CEmbeddedBroker) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        // SAFETY: checked by the registry.
        status(unsafe {
            with_broker(broker, |b| {
                shutdown(b);
                Ok(())
            })
        })
    })
}

/// Shuts down (if running) and frees the embedded broker.
#[no_mangle]
pub unsafe extern "C" fn DestroyEmbeddedBroker(broker: *mut CEmbeddedBroker) -> c_int {
    ffi_boundary!(CStatus::NULL_POINTER as c_int, {
        status(BROKERS.remove(as_obj(broker)).map(|mut b| shutdown(&mut b)))
    })
}

unsafe fn addr_of(
    broker: *mut CEmbeddedBroker,
    f: impl FnOnce(&EmbeddedBrokerObj) -> *const c_char,
) -> *const c_char {
    // SAFETY: checked by the registry.
    match unsafe { BROKERS.get(as_obj(broker)) } {
        Ok(b) if b.cluster.is_some() => f(b),
        Ok(_) => empty_c_str(),
        Err(_) => ptr::null(),
    }
}

/// The name server address ("127.0.0.1:port") to give clients; "" when not running, NULL for
/// a NULL handle. Borrowed: valid until the broker is shut down or destroyed.
#[no_mangle]
pub unsafe extern "C" fn GetEmbeddedBrokerNameServerAddress(
    broker: *mut CEmbeddedBroker,
) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { addr_of(broker, |b| b.namesrv_addr.as_ptr()) }
    })
}

/// The broker's own address ("127.0.0.1:port"), as `GetEmbeddedBrokerNameServerAddress`.
#[no_mangle]
pub unsafe extern "C" fn GetEmbeddedBrokerAddress(broker: *mut CEmbeddedBroker) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { addr_of(broker, |b| b.broker_addr.as_ptr()) }
    })
}

/// The store directory in use, as `GetEmbeddedBrokerNameServerAddress`.
#[no_mangle]
pub unsafe extern "C" fn GetEmbeddedBrokerStoreDir(broker: *mut CEmbeddedBroker) -> *const c_char {
    ffi_boundary!(ptr::null(), {
        // SAFETY: checked by the registry.
        unsafe { addr_of(broker, |b| b.store_dir.as_ptr()) }
    })
}
