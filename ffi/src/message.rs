//! The one message object behind both `CMessage*` and `CMessageExt*`.
//!
//! librocketmq's `MQMessageExt` derives from `MQMessage`, and the Python wrapper relies on it:
//! it calls the `GetMessage*` (CMessageExt) getters on the `CMessage*` handed to a transaction
//! executor. So both handle types point at a [`MessageObj`]; a plain message simply has no
//! [`ExtInfo`], and the ext-only getters then answer "" or 0.
//!
//! Every string a getter returns is kept here as a `CString`, so it is NUL-terminated and stays
//! valid until the message is changed or destroyed.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};

use crate::boundary::c_string;
use crate::handles::Registry;

/// Property names (Java `MessageConst`).
pub(crate) mod property {
    pub const TAGS: &str = "TAGS";
    pub const KEYS: &str = "KEYS";
    pub const DELAY: &str = "DELAY";
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
}

/// Every live message: created by `CreateMessage`, or by the library for a received message.
pub(crate) static MESSAGES: Registry<MessageObj> = Registry::new("message");

#[derive(Debug, Clone, Default)]
pub(crate) struct MessageObj {
    topic: CString,
    /// The body followed by one NUL byte (not counted in the length), so C can treat it as a
    /// string when it is one.
    body_nul: Vec<u8>,
    properties: BTreeMap<CString, CString>,
    pub flag: i32,
    pub ext: Option<ExtInfo>,
}

/// What a received message has on top of a plain one.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtInfo {
    pub msg_id: CString,
    pub offset_msg_id: CString,
    pub broker_name: CString,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub store_size: i32,
    pub reconsume_times: i32,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
    pub prepared_transaction_offset: i64,
    pub born_host: CString,
    pub store_host: CString,
    pub sys_flag: i32,
    pub body_crc: i32,
}

impl MessageObj {
    pub fn new(topic: &str) -> MessageObj {
        MessageObj {
            topic: c_string(topic),
            body_nul: vec![0],
            ..MessageObj::default()
        }
    }

    pub fn topic(&self) -> &CString {
        &self.topic
    }
    pub fn topic_str(&self) -> String {
        self.topic.to_string_lossy().into_owned()
    }
    pub fn set_topic(&mut self, topic: &str) {
        self.topic = c_string(topic);
    }

    pub fn body(&self) -> &[u8] {
        &self.body_nul[..self.body_nul.len() - 1]
    }
    /// The body as a NUL-terminated buffer.
    pub fn body_nul(&self) -> &[u8] {
        &self.body_nul
    }
    pub fn set_body(&mut self, body: &[u8]) {
        let mut b = Vec::with_capacity(body.len() + 1);
        b.extend_from_slice(body);
        b.push(0);
        self.body_nul = b;
    }

    pub fn property(&self, key: &str) -> Option<&CString> {
        self.properties.get(c_string(key).as_c_str())
    }
    pub fn property_str(&self, key: &str) -> Option<String> {
        self.property(key).map(|v| v.to_string_lossy().into_owned())
    }
    pub fn set_property(&mut self, key: &str, value: &str) {
        self.properties.insert(c_string(key), c_string(value));
    }
    /// Every property, in name order.
    pub fn properties(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.properties.iter().map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
    }
    /// The name of the `index`-th property in name order.
    pub fn property_name(&self, index: usize) -> Option<&CStr> {
        self.properties.keys().nth(index).map(CString::as_c_str)
    }

    /// Delay level from the `DELAY` property; 0 when unset or unparsable.
    pub fn delay_level(&self) -> i32 {
        self.property_str(property::DELAY)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_nul_terminated_and_binary_safe() {
        let mut m = MessageObj::new("T");
        assert_eq!(m.body(), b"");
        assert_eq!(m.body_nul(), b"\0");
        m.set_body(b"a\0b");
        assert_eq!(m.body(), b"a\0b");
        assert_eq!(m.body_nul(), b"a\0b\0");
    }

    #[test]
    fn delay_level_parses_the_property() {
        let mut m = MessageObj::new("T");
        assert_eq!(m.delay_level(), 0);
        m.set_property(property::DELAY, "3");
        assert_eq!(m.delay_level(), 3);
    }
}
