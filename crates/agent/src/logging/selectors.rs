//! Metricbeat's logger names, as `-d` and `logging.selectors` take them, and the tracing
//! targets that do the same job in metricpipe. The agent's own targets are the modules'
//! [`module_path!`] constants, so moving or renaming a module moves its selector with it.

use crate::config::LogLevel;

/// The tracing target of the Kafka output's crate.
const SHIP: &str = "metricpipe_ship";
/// The tracing target of the /proc readers' crate.
const COLLECT: &str = "metricpipe_collect";
/// The tracing target of the monitoring endpoint's crate.
const TELEMETRY: &str = "metricpipe_telemetry";
/// The tracing target of the rdkafka crate's own log records.
const RDKAFKA: &str = "rdkafka";

/// Each group of selector names and the targets they enable at debug.
pub const SELECTORS: &[(&[&str], &[&str])] = &[
    (
        &["publisher", "publish", "pipeline", "kafka", "output"],
        &[SHIP, crate::run::LOG_TARGET, RDKAFKA],
    ),
    (
        &[
            "processors",
            "add_host_metadata",
            "processor.add_host_metadata",
            "conditions",
        ],
        &[crate::processors::LOG_TARGET],
    ),
    (
        &["cfgfile", "modules", "reload", "config", "cfgwarn"],
        &[
            crate::config::LOG_TARGET,
            crate::beatconf::modules_d::LOG_TARGET,
            crate::run::reload::LOG_TARGET,
        ],
    ),
    (
        &[
            "metricbeat",
            "module",
            "scheduler",
            "system",
            "cpu",
            "memory",
        ],
        &[COLLECT, crate::run::LOG_TARGET],
    ),
    (&["monitoring", "http", "api", "metrics"], &[TELEMETRY]),
];

/// The filter `logging.level` and the selectors give, and the selectors that match nothing
/// here. As in logp, selectors choose which debug lines show: with level debug and no
/// selectors (or `*`) every debug line does; other levels ignore selectors.
pub fn agent_filter(level: LogLevel, selectors: &[String]) -> (String, Vec<String>) {
    if level != LogLevel::Debug {
        return (level.directive().to_string(), Vec::new());
    }
    if selectors.is_empty() || selectors.iter().any(|s| s == "*") {
        return ("debug".to_string(), Vec::new());
    }
    let mut targets: Vec<&str> = Vec::new();
    let mut unknown = Vec::new();
    for sel in selectors {
        match SELECTORS
            .iter()
            .find(|(names, _)| names.contains(&sel.as_str()))
        {
            Some((_, ts)) => {
                for t in ts.iter() {
                    if !targets.contains(t) {
                        targets.push(t);
                    }
                }
            }
            None => unknown.push(sel.clone()),
        }
    }
    let mut filter = "info".to_string();
    for t in targets {
        filter.push_str(&format!(",{t}=debug"));
    }
    (filter, unknown)
}

/// Warn, once logging is up, about selectors that show nothing.
pub fn warn_unknown(unknown: &[String]) {
    if unknown.is_empty() {
        return;
    }
    let known: Vec<&str> = SELECTORS
        .iter()
        .flat_map(|(n, _)| n.iter().copied())
        .collect();
    tracing::warn!(
        "logging selectors {unknown:?} match no part of metricpipe and show nothing; known: {known:?} and *"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_and_selectors_give_the_filter() {
        let sel = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(agent_filter(LogLevel::Warning, &sel(&["kafka"])).0, "warn");
        assert_eq!(agent_filter(LogLevel::Critical, &[]).0, "error");
        assert_eq!(agent_filter(LogLevel::Debug, &[]).0, "debug");
        assert_eq!(
            agent_filter(LogLevel::Debug, &sel(&["kafka", "*"])).0,
            "debug"
        );
        let (f, unknown) = agent_filter(LogLevel::Debug, &sel(&["publisher", "kafka", "nope"]));
        assert_eq!(
            f,
            "info,metricpipe_ship=debug,metricpipe_agent::run=debug,rdkafka=debug"
        );
        assert_eq!(unknown, ["nope"]);
        let (f, _) = agent_filter(LogLevel::Debug, &sel(&["add_host_metadata"]));
        assert_eq!(f, "info,metricpipe_agent::processors=debug");
    }

    /// Every target a selector names is a module of this crate or a crate the agent's log
    /// lines come from: the crate names are checked against the paths of their types.
    #[test]
    fn each_selector_maps_to_a_real_target() {
        let crates = [
            std::any::type_name::<metricpipe_ship::KafkaSink>(),
            std::any::type_name::<metricpipe_collect::ProcRoot>(),
            std::any::type_name::<rdkafka::ClientConfig>(),
            std::any::type_name::<metricpipe_telemetry::Readiness>(),
        ];
        let modules = [
            crate::run::LOG_TARGET,
            crate::run::reload::LOG_TARGET,
            crate::processors::LOG_TARGET,
            crate::config::LOG_TARGET,
            crate::beatconf::modules_d::LOG_TARGET,
        ];
        for (names, targets) in SELECTORS {
            assert!(!names.is_empty() && !targets.is_empty());
            for t in *targets {
                let in_crate = crates
                    .iter()
                    .any(|path| path.strip_prefix(t).is_some_and(|r| r.starts_with("::")));
                assert!(
                    in_crate || modules.contains(t),
                    "selectors {names:?} name {t}, which is no module or crate"
                );
            }
        }
        for m in modules {
            assert!(m.starts_with("metricpipe_agent::"), "{m}");
        }
    }
}
