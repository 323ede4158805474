//! SQL92 property filters (`expressionType=SQL92`). Being written; until then every expression
//! is refused with a clear error rather than silently matching.

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct SqlFilter {
    _never: (),
}

impl SqlFilter {
    pub fn compile(expression: &str) -> Result<SqlFilter, String> {
        Err(format!(
            "SQL92 filtering is not supported by this broker yet (expression: {expression})"
        ))
    }

    pub fn matches(&self, _properties: &HashMap<String, String>) -> bool {
        false
    }
}
