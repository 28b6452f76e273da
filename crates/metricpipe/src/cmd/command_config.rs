//! `--command-config FILE`: read, translate, and log what was dropped.

use std::path::Path;

/// The librdkafka properties of a Java client properties file; none without a file.
pub fn load(path: Option<&Path>) -> anyhow::Result<Vec<(String, String)>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let config = metricpipe_kafka::command_config::load(path)?;
    for w in &config.warnings {
        tracing::warn!(file = %path.display(), "{w}");
    }
    Ok(config.properties)
}
