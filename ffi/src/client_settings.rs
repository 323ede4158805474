//! Settings every client handle accumulates until it is started (librocketmq configures with
//! setters after `Create*`; the core client takes its whole configuration at construction).

use rocketmq::client::{ClientConfig, Credentials};

use crate::boundary::{FfiError, FfiResult};
use crate::c_common::CStatus;

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

pub(crate) fn set_credentials(client: &mut ClientConfig, access_key: String, secret_key: String) {
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
