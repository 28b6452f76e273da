//! Logging and error output: one place that decides the log filter, whether stderr gets
//! colour, and how an error and its causes are printed.

use std::io::IsTerminal;

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
    let mut directives: Vec<String> = Vec::new();
    for source in [Some(DEFAULT_FILTER), rust_log, flag].into_iter().flatten() {
        for d in source.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let key = directive_key(d).to_string();
            directives.retain(|old| directive_key(old) != key);
            directives.push(d.to_string());
        }
    }
    directives.join(",")
}

/// Whether to colour stderr: only on a terminal, and never with `NO_COLOR` set to anything
/// non-empty (<https://no-color.org>).
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && no_color_unset(std::env::var_os("NO_COLOR"))
}

fn no_color_unset(value: Option<std::ffi::OsString>) -> bool {
    match value {
        None => true,
        Some(v) => v.is_empty(),
    }
}

/// Install the tracing subscriber. An invalid filter is an error naming it, not a silent
/// fallback.
pub fn init(flag: Option<&str>) -> anyhow::Result<()> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = combine_filters(rust_log.as_deref(), flag);
    let env_filter = tracing_subscriber::EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| {
            anyhow::anyhow!("invalid log filter {filter:?} (from RUST_LOG and --log): {e}")
        })?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(|| super::progress::LogWriter)
        .with_ansi(colour_stderr())
        .with_target(false)
        .init();
    Ok(())
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
    fn no_color_set_to_anything_non_empty_turns_colour_off() {
        assert!(no_color_unset(None));
        assert!(no_color_unset(Some("".into())));
        assert!(!no_color_unset(Some("1".into())));
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
