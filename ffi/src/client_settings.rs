//! Settings every client handle accumulates until it is started (librocketmq configures with
//! setters after `Create*`; the core client takes its whole configuration at construction).

use std::os::raw::{c_char, c_int};

use rocketmq::client::{ClientConfig, Credentials};

use crate::boundary::{req_str, FfiError, FfiResult};
use crate::c_common::CStatus;

/// What the setters every librocketmq family repeats (`Set*NameServerAddress`,
/// `Set*NameServerDomain`, `Set*InstanceName`, `Set*SessionCredentials`) write: implemented by
/// each family's settings, so those setters are written once, below.
pub(crate) trait ClientSettings {
    fn client(&mut self) -> &mut ClientConfig;
    fn namesrv_domain(&mut self) -> &mut Option<String>;
}

/// `Set*NameServerAddress`: "host:port;host:port" (copied).
///
/// # Safety
/// `namesrv` is NULL or a C string alive for this call.
pub(crate) unsafe fn set_namesrv_address(
    s: &mut impl ClientSettings,
    namesrv: *const c_char,
) -> FfiResult<()> {
    // SAFETY: forwarded contract.
    s.client().namesrv_addr = unsafe { req_str(namesrv, "namesrv") }?;
    Ok(())
}

/// `Set*NameServerDomain`: recorded only (see `check_namesrv`).
///
/// # Safety
/// As [`set_namesrv_address`].
pub(crate) unsafe fn set_namesrv_domain(
    s: &mut impl ClientSettings,
    domain: *const c_char,
) -> FfiResult<()> {
    // SAFETY: forwarded contract.
    *s.namesrv_domain() = Some(unsafe { req_str(domain, "domain") }?);
    Ok(())
}

/// `Set*InstanceName` (part of the client id; "DEFAULT" gives each client a unique one).
///
/// # Safety
/// As [`set_namesrv_address`].
pub(crate) unsafe fn set_instance_name(
    s: &mut impl ClientSettings,
    name: *const c_char,
) -> FfiResult<()> {
    // SAFETY: forwarded contract.
    s.client().instance_name = unsafe { req_str(name, "instanceName") }?;
    Ok(())
}

/// `Set*SessionCredentials`: ACL keys (copied); both empty means none.
///
/// # Safety
/// Both are NULL or C strings alive for this call.
pub(crate) unsafe fn set_session_credentials(
    s: &mut impl ClientSettings,
    access_key: *const c_char,
    secret_key: *const c_char,
) -> FfiResult<()> {
    // SAFETY: forwarded contract.
    let (ak, sk) = unsafe {
        (
            req_str(access_key, "accessKey")?,
            req_str(secret_key, "secretKey")?,
        )
    };
    set_credentials(s.client(), ak, sk);
    Ok(())
}

/// `Set*Ssl`: TLS is not supported; 0 is accepted, anything else is `Not_Support` (500).
pub(crate) fn refuse_ssl(enable_ssl: c_int) -> FfiResult<()> {
    if enable_ssl != 0 {
        return Err(FfiError::new(CStatus::Not_Support, "TLS is not supported"));
    }
    Ok(())
}

/// What `Set*NameServerDomain` recorded: librocketmq resolves name servers over HTTP from it;
/// rocketmq-rs does not, so starting with only a domain fails with a message saying so.
pub(crate) fn check_namesrv(
    client: &ClientConfig,
    domain: &Option<String>,
    status: CStatus,
) -> FfiResult<()> {
    if client.namesrv_addr.trim().is_empty() {
        let why = match domain {
            Some(d) => format!(
                "no name server address: looking name servers up from the domain '{d}' is not \
                 supported; set the address with Set*NameServerAddress (host:port;host:port)"
            ),
            None => "no name server address: set one with Set*NameServerAddress \
                     (host:port;host:port) or the NAMESRV_ADDR environment variable"
                .to_string(),
        };
        return Err(FfiError::new(status, why));
    }
    Ok(())
}

fn set_credentials(client: &mut ClientConfig, access_key: String, secret_key: String) {
    client.credentials = if access_key.is_empty() && secret_key.is_empty() {
        None
    } else {
        Some(Credentials {
            access_key,
            secret_key,
            security_token: None,
        })
    };
}
