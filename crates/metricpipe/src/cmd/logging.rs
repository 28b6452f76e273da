//! Logging and error output: one place that decides the log filter and how an error and
//! its causes are printed. Whether stderr gets colour is [`colour_stderr`]'s call.

use metricpipe_agent::config::LoggingConfig;
use metricpipe_agent::logging as agent_log;

use super::progress::{colour_stderr, LogWriter};
use metricpipe_agent::logging::WorkerGuard;

/// The log filter's starting point, before RUST_LOG and `--log` add to it.
pub const DEFAULT_FILTER: &str = "info";

/// Help text of `--log`: the order of precedence, stated once.
pub const LOG_HELP: &str = "Log filter, e.g. `debug` or `metricpipe=debug,rdkafka=warn` (tracing \
EnvFilter syntax). Directives combine in this order, later ones winning for the same target: \
`info`, then RUST_LOG, then --log (or METRICPIPE_LOG)";

/// The key a directive sets: its target (with span and field filters), or `""` for a bare
/// level, which sets the default for every target.
fn directive_key(directive: &str) -> &str {
    match directive.rsplit_once('=') {
        // `target[span{field=value}]` holds '=' inside brackets: only a '=' after them counts.
        Some((key, level)) if !level.contains(']') && !level.contains('}') => key,
        _ if is_level(directive) => "",
        _ => directive,
    }
}

fn is_level(s: &str) -> bool {
    ["trace", "debug", "info", "warn", "error", "off"]
        .iter()
        .any(|l| l.eq_ignore_ascii_case(s))
}

/// Combine the filters into one directive list: [`DEFAULT_FILTER`], then `rust_log`, then
/// `flag` (`--log` or METRICPIPE_LOG). A later directive replaces an earlier one with the
/// same key, so `--log warn` with `RUST_LOG=rdkafka=debug` gives `warn,rdkafka=debug`.
pub fn combine_filters(rust_log: Option<&str>, flag: Option<&str>) -> String {
    combine_filters_over(DEFAULT_FILTER, rust_log, flag)
}

/// [`combine_filters`] over another starting point (the agent's `logging.*`).
pub fn combine_filters_over(base: &str, rust_log: Option<&str>, flag: Option<&str>) -> String {
    let mut directives: Vec<String> = Vec::new();
    for source in [Some(base), rust_log, flag].into_iter().flatten() {
        for d in source.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let key = directive_key(d).to_string();
            directives.retain(|old| directive_key(old) != key);
            directives.push(d.to_string());
        }
    }
    directives.join(",")
}

/// Install the tracing subscriber. An invalid filter is an error naming it, not a silent
/// fallback.
pub fn init(flag: Option<&str>) -> anyhow::Result<()> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = combine_filters(rust_log.as_deref(), flag);
    let env_filter = parse_filter(&filter, "RUST_LOG and --log")?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(|| LogWriter)
        .with_ansi(colour_stderr())
        .with_target(false)
        .init();
    Ok(())
}

/// Parse the combined filter; an invalid one is an error naming it and where it came from.
fn parse_filter(filter: &str, sources: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?} (from {sources}): {e}"))
}

/// Install the agent's logging from `logging.*` (with `-e`, `-d`, `--environment` applied):
/// the agent library's output, format, level and selectors, then RUST_LOG and `--log` on
/// top. Keep the returned guard until exit: it flushes the log file.
pub fn init_agent(cfg: &LoggingConfig, flag: Option<&str>) -> anyhow::Result<Option<WorkerGuard>> {
    let (base, unknown) = agent_log::agent_filter(cfg.level, &cfg.selectors);
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = combine_filters_over(&base, rust_log.as_deref(), flag);
    let env_filter = parse_filter(&filter, "logging.*, RUST_LOG and --log")?;
    let guard = agent_log::install(cfg, env_filter, || LogWriter, colour_stderr())?;
    agent_log::warn_unknown(&unknown);
    Ok(guard)
}

/// One line: the error, then each cause that adds something. Library errors often put
/// their source's text in their own message too; a cause already said is not said again.
pub fn render_error(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_flag_wins_over_rust_log_for_the_same_target_and_both_add_up() {
        assert_eq!(combine_filters(None, None), "info");
        assert_eq!(combine_filters(Some("debug"), None), "debug");
        assert_eq!(combine_filters(Some("debug"), Some("warn")), "warn");
        assert_eq!(
            combine_filters(Some("rdkafka=debug"), Some("warn")),
            "rdkafka=debug,warn"
        );
        assert_eq!(
            combine_filters(Some("metricpipe=trace,rdkafka=debug"), Some("rdkafka=warn")),
            "info,metricpipe=trace,rdkafka=warn"
        );
    }

    #[test]
    fn span_filters_keep_their_equals_signs_inside_the_key() {
        assert_eq!(directive_key("app[run{id=3}]=debug"), "app[run{id=3}]");
        assert_eq!(directive_key("app[run{id=3}]"), "app[run{id=3}]");
        assert_eq!(directive_key("WARN"), "");
        assert_eq!(directive_key("rdkafka"), "rdkafka");
    }

    #[test]
    fn the_agent_filter_is_the_base_under_rust_log_and_the_flag() {
        assert_eq!(
            combine_filters_over("info,rdkafka=debug", None, Some("warn")),
            "rdkafka=debug,warn"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading x.toml failed: {source}")]
    struct Echoing {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(Echoing { source: io }).context("loading the config");
        let text = render_error(&e);
        assert_eq!(
            text,
            "loading the config: reading x.toml failed: No such file"
        );
        assert_eq!(text.matches("No such file").count(), 1);
    }
}
