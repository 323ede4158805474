//! Every protocol bound in one place, named with its unit.

/// Largest frame accepted, including the 4-byte length field (Java `frameMaxLength`).
pub const FRAME_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Largest topic name, in bytes (the stored topic length is an i8).
pub const TOPIC_MAX_BYTES: usize = 127;
/// Largest serialized properties string, in bytes (the stored length is an i16).
pub const PROPERTIES_MAX_BYTES: usize = i16::MAX as usize;
/// Default `maxMessageSize`: largest body, in bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Bodies at least this large are compressed by producers.
pub const COMPRESS_BODY_OVER_BYTES: usize = 4096;
/// Largest consumer group name, in bytes.
pub const GROUP_MAX_BYTES: usize = 255;
