//! The client's typed errors. Every message says what went wrong and what to do about it.

use std::fmt;

use crate::protocol::response_code;
use crate::remoting::RemotingError;

/// Stable numbers for each kind of client error, for bindings (C status codes, Python exception
/// classes, Go error values). Never renumber or reuse a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    IllegalArgument = 1,
    ClientState = 2,
    RouteNotFound = 3,
    Timeout = 4,
    Broker = 5,
    Network = 6,
    Io = 7,
}

/// A failure of a client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The caller passed something the client refuses before touching the network.
    IllegalArgument(String),
    /// The client is not in a state that allows the call (not started, already shut down, ...).
    ClientState(String),
    /// No name server knows a route for this topic.
    RouteNotFound { topic: String, detail: String },
    /// The operation did not finish within its time budget.
    Timeout { what: String, timeout_ms: u64 },
    /// A request (request-reply) was sent, but no reply came back in time.
    ReplyTimeout {
        topic: String,
        correlation_id: String,
        timeout_ms: u64,
    },
    /// A broker or name server answered with an error response code.
    Broker {
        code: i32,
        remark: String,
        addr: String,
    },
    /// A connection could not be made or broke.
    Network(RemotingError),
    /// A local file (offset store) could not be read or written.
    Io(String),
}

pub type Result<T> = std::result::Result<T, ClientError>;

impl ClientError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::IllegalArgument(_) => ErrorKind::IllegalArgument,
            ClientError::ClientState(_) => ErrorKind::ClientState,
            ClientError::RouteNotFound { .. } => ErrorKind::RouteNotFound,
            ClientError::Timeout { .. } | ClientError::ReplyTimeout { .. } => ErrorKind::Timeout,
            ClientError::Broker { .. } => ErrorKind::Broker,
            ClientError::Network(RemotingError::Timeout { .. }) => ErrorKind::Timeout,
            ClientError::Network(_) => ErrorKind::Network,
            ClientError::Io(_) => ErrorKind::Io,
        }
    }

    /// The broker response code, if a broker answered with an error.
    pub fn response_code(&self) -> Option<i32> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn illegal(msg: impl Into<String>) -> Self {
        ClientError::IllegalArgument(msg.into())
    }

    pub(crate) fn state(msg: impl Into<String>) -> Self {
        ClientError::ClientState(msg.into())
    }

    pub(crate) fn broker(code: i32, remark: Option<&str>, addr: &str) -> Self {
        ClientError::Broker {
            code,
            remark: remark.unwrap_or("").to_string(),
            addr: addr.to_string(),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::IllegalArgument(m) => write!(f, "illegal argument: {m}"),
            ClientError::ClientState(m) => write!(f, "client state: {m}"),
            ClientError::RouteNotFound { topic, detail } => write!(
                f,
                "no route for topic '{topic}' ({detail}); create the topic on a broker \
                 (or enable autoCreateTopicEnable) and check the name server address"
            ),
            ClientError::Timeout { what, timeout_ms } => write!(
                f,
                "{what} did not complete within {timeout_ms} ms; check that the broker is \
                 reachable and not overloaded, or raise the timeout"
            ),
            ClientError::ReplyTimeout {
                topic,
                correlation_id,
                timeout_ms,
            } => write!(
                f,
                "the request to topic '{topic}' was sent, but no reply (correlation id \
                 {correlation_id}) arrived within {timeout_ms} ms; check that a consumer of \
                 '{topic}' answers with a reply message, or raise the timeout"
            ),
            ClientError::Broker { code, remark, addr } => {
                let hint = match *code {
                    response_code::TOPIC_NOT_EXIST => "create the topic first",
                    response_code::NO_PERMISSION => {
                        "check topic/broker permissions and ACL credentials"
                    }
                    response_code::SYSTEM_BUSY => "the broker is busy; retry later",
                    response_code::MESSAGE_ILLEGAL => "check message size, topic and properties",
                    response_code::SUBSCRIPTION_GROUP_NOT_EXIST => {
                        "create the subscription group first"
                    }
                    _ => "see the broker's remark",
                };
                write!(
                    f,
                    "broker {addr} answered {} ({code}): {remark}; {hint}",
                    response_code::name(*code)
                )
            }
            ClientError::Network(e) => write!(
                f,
                "network: {e}; check that the broker / name server address is right and running"
            ),
            ClientError::Io(m) => write!(f, "local I/O: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<RemotingError> for ClientError {
    fn from(e: RemotingError) -> Self {
        ClientError::Network(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_code_and_advice() {
        let e = ClientError::broker(17, Some("topic[T] not exist"), "127.0.0.1:10911");
        let s = e.to_string();
        assert!(s.contains("(17)") && s.contains("topic[T] not exist") && s.contains("create"));
        assert_eq!(e.kind(), ErrorKind::Broker);
        assert_eq!(e.response_code(), Some(17));
        let t = ClientError::Network(RemotingError::Timeout {
            addr: "a".into(),
            timeout_ms: 5,
        });
        assert_eq!(t.kind(), ErrorKind::Timeout);
    }
}
