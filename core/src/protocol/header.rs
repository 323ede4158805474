//! Typed access to a command's `extFields` (the "custom header": every value is a string).

use super::command::RemotingCommand;

/// A required header field is missing or unparsable: answered with SYSTEM_ERROR and this text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HeaderError {}

impl RemotingCommand {
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    pub fn ext_str(&self, key: &str) -> Result<&str, HeaderError> {
        self.ext(key)
            .ok_or_else(|| HeaderError(format!("the request header field '{key}' is missing")))
    }

    fn parse<T: std::str::FromStr>(&self, key: &str, v: &str) -> Result<T, HeaderError> {
        v.trim().parse().map_err(|_| {
            HeaderError(format!(
                "the request header field '{key}' has the unparsable value '{v}'"
            ))
        })
    }

    pub fn ext_i32(&self, key: &str) -> Result<i32, HeaderError> {
        let v = self.ext_str(key)?;
        self.parse(key, v)
    }

    pub fn ext_i64(&self, key: &str) -> Result<i64, HeaderError> {
        let v = self.ext_str(key)?;
        self.parse(key, v)
    }

    pub fn ext_i32_or(&self, key: &str, default: i32) -> Result<i32, HeaderError> {
        match self.ext(key) {
            Some(v) => self.parse(key, v),
            None => Ok(default),
        }
    }

    pub fn ext_i64_or(&self, key: &str, default: i64) -> Result<i64, HeaderError> {
        match self.ext(key) {
            Some(v) => self.parse(key, v),
            None => Ok(default),
        }
    }

    pub fn ext_bool(&self, key: &str) -> bool {
        matches!(self.ext(key), Some(v) if v.eq_ignore_ascii_case("true"))
    }

    /// The first of several names (e.g. long name or V2 letter) that is present.
    pub fn ext_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.ext(k))
    }
}
