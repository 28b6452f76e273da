//! What this binary is: its version, the git commit it was built from and the librdkafka
//! it links. `metricpipe --version` prints it and `/metrics` exports it as
//! `metricpipe_build_info{version,commit,librdkafka} 1` (the `*_build_info` convention of
//! Prometheus exporters, so dashboards can join on it).

use std::sync::OnceLock;

/// The build's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The crate version, e.g. `0.1.0`.
    pub version: String,
    /// The git commit (12 hex digits), or `unknown` when built outside a git checkout.
    pub commit: String,
    /// librdkafka's version string at run time, e.g. `2.12.1`.
    pub librdkafka: String,
}

impl BuildInfo {
    /// `version` and `commit` as the binary was built; librdkafka's version is read from the
    /// linked library.
    pub fn new(version: impl Into<String>, commit: impl Into<String>) -> Self {
        BuildInfo {
            version: version.into(),
            commit: commit.into(),
            librdkafka: rdkafka::util::get_rdkafka_version().1,
        }
    }

    /// The multi-line text `--version` prints after the program name.
    pub fn long_version(&self) -> String {
        format!(
            "{}\ncommit: {}\nlibrdkafka: {}",
            self.version, self.commit, self.librdkafka
        )
    }
}

static BUILD_INFO: OnceLock<BuildInfo> = OnceLock::new();

/// Tell the telemetry what the binary is (once, before serving; later calls are ignored).
pub fn set_build_info(info: BuildInfo) {
    let _ = BUILD_INFO.set(info);
}

/// What [`set_build_info`] was given, or this crate's version with commit `unknown`.
pub fn build_info() -> &'static BuildInfo {
    BUILD_INFO.get_or_init(|| BuildInfo::new(env!("CARGO_PKG_VERSION"), "unknown"))
}

pub(crate) fn export_build_info() {
    let b = build_info();
    metrics::gauge!(
        crate::catalog::BUILD_INFO,
        "version" => b.version.clone(),
        "commit" => b.commit.clone(),
        "librdkafka" => b.librdkafka.clone()
    )
    .set(1.0);
}
