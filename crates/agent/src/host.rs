//! Who this agent is: the hostname, the persisted `agent.id`, and the beat's identity that
//! every event and the monitoring endpoint carry.

use std::path::Path;
use std::time::SystemTime;

use metricpipe_collect::BeatInfo;

use crate::config::AgentConfig;

/// The hostname, as Go's `os.Hostname` gives it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `agent.id` from `${path.data}/meta.json` (created on first start, as Metricbeat does).
/// A data directory that cannot be written gives a fresh id and a warning, never a failure.
pub fn agent_id(path_data: &Path) -> String {
    let meta = path_data.join("meta.json");
    if let Ok(text) = std::fs::read_to_string(&meta) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Some(id) = v.get("uuid").and_then(|u| u.as_str()) {
                return id.to_string();
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "uuid": id,
        "first_start": metricpipe_collect::format_timestamp(SystemTime::now()),
    });
    let written =
        std::fs::create_dir_all(path_data).and_then(|_| std::fs::write(&meta, body.to_string()));
    if let Err(error) = written {
        tracing::warn!(path = %meta.display(), %error, "could not persist agent.id; it will change on restart");
    }
    id
}

pub(crate) fn beat_info(config: &AgentConfig) -> BeatInfo {
    BeatInfo {
        beat: "metricbeat".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        id: agent_id(&config.path_data),
        ephemeral_id: uuid::Uuid::new_v4().to_string(),
        name: config.name.clone().unwrap_or_else(hostname),
        ecs_version: "8.0.0".into(),
    }
}
