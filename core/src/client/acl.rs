//! ACL 1.0 request signing (§10): `AccessKey` plus a Base64 HMAC-SHA1 `Signature` over the
//! sorted ext-field values and the body.

use std::collections::BTreeMap;

use super::digest::{base64, hmac_sha1};
use crate::protocol::RemotingCommand;

/// Access credentials carried in every request when set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    /// Optional `SecurityToken` (STS).
    pub security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// The signature of `cmd` as the broker recomputes it: values of all ext fields but `Signature`
/// in key order (keys are ASCII, so byte order equals Java's `String` order), then the body.
pub fn signature(secret_key: &str, cmd: &RemotingCommand) -> String {
    let sorted: BTreeMap<&str, &str> = cmd
        .ext_fields
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut data = Vec::with_capacity(256 + cmd.body.len());
    for v in sorted.values() {
        data.extend_from_slice(v.as_bytes());
    }
    data.extend_from_slice(&cmd.body);
    base64(&hmac_sha1(secret_key.as_bytes(), &data))
}

/// Adds `AccessKey`, `SecurityToken` (if any) and `Signature` to `cmd`.
pub fn sign(creds: &Credentials, cmd: &mut RemotingCommand) {
    cmd.set_ext("AccessKey", &creds.access_key);
    if let Some(t) = &creds.security_token {
        cmd.set_ext("SecurityToken", t);
    }
    let sig = signature(&creds.secret_key, cmd);
    cmd.set_ext("Signature", sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_sorted_values_then_body() {
        let creds = Credentials {
            access_key: "rocketmq2".into(),
            secret_key: "12345678".into(),
            security_token: None,
        };
        let mut cmd = RemotingCommand::request(310)
            .with_ext("b", "TopicTest")
            .with_ext("a", "PG")
            .with_body(&b"hello"[..]);
        sign(&creds, &mut cmd);
        // Data = "PG" + "rocketmq2" (AccessKey sorts before a/b? no: 'A' < 'a') ...
        // sorted keys: AccessKey, a, b -> "rocketmq2" "PG" "TopicTest" + body
        let expect = base64(&hmac_sha1(b"12345678", b"rocketmq2PGTopicTesthello"));
        assert_eq!(cmd.ext("Signature"), Some(expect.as_str()));
        assert_eq!(cmd.ext("AccessKey"), Some("rocketmq2"));
        // Re-signing ignores the old signature.
        assert_eq!(signature("12345678", &cmd), expect);
    }
}
