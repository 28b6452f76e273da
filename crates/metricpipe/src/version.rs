//! `metricpipe --version`: the version, the git commit (from `build.rs`) and librdkafka's
//! version, also exported as `metricpipe_build_info` on `/metrics`.

use std::sync::OnceLock;

/// Hand the build's identity to the telemetry; call before parsing flags.
pub fn init() {
    metricpipe_telemetry::set_build_info(metricpipe_telemetry::BuildInfo::new(
        env!("CARGO_PKG_VERSION"),
        env!("METRICPIPE_COMMIT"),
    ));
}

/// What `--version` prints after `metricpipe `: three lines, version, commit, librdkafka.
pub fn long() -> &'static str {
    static LONG: OnceLock<String> = OnceLock::new();
    LONG.get_or_init(|| metricpipe_telemetry::build_info().long_version())
}
