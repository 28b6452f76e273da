//! Checks on the argument parser itself: every example in every `--help` parses with the
//! real `Cli`, every option has help text, every command that names brokers takes the same
//! bootstrap-server flag, and completions and man pages come out of the same parser.

use clap::{CommandFactory, Parser};

use crate::Cli;

/// Every command of the tree with its path, e.g. `["metricpipe", "local", "up"]`.
fn all_commands() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(path: Vec<String>, cmd: &clap::Command, out: &mut Vec<(Vec<String>, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(p, sub, out);
        }
    }
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk(vec!["metricpipe".into()], &cli, &mut out);
    out
}

/// Drop a shell comment (` # ...` outside quotes) from an example line.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The example lines of a help text: the indented lines under `Examples:`/`Example:`.
fn example_lines(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.trim_end().ends_with("Examples:") || line.trim_end().ends_with("Example:") {
            inside = true;
            continue;
        }
        if inside && line.trim().is_empty() {
            inside = false;
        }
        if inside && line.starts_with("  ") {
            out.push(strip_comment(line).trim().to_string());
        }
    }
    out
}

/// The `metricpipe ...` invocations of one shell line (pipelines and `&&`/`;` lists).
fn invocations(line: &str) -> Vec<Vec<String>> {
    let words = shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes in {line:?}"));
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut redirect_target = false;
    for w in words {
        // A redirection (`> FILE`) is the shell's business, not an argument.
        if std::mem::take(&mut redirect_target) {
            continue;
        }
        if [">", ">>", "2>", "<"].contains(&w.as_str()) {
            redirect_target = true;
            continue;
        }
        // A process substitution `<(metricpipe ...)` starts a command of its own.
        let w = match w.strip_prefix("<(") {
            Some(inner) => {
                out.push(std::mem::take(&mut current));
                inner.to_string()
            }
            None => w,
        };
        let (word, ends) = match w.strip_suffix(';').or_else(|| w.strip_suffix(')')) {
            Some(stripped) => (stripped.to_string(), true),
            None => (w.clone(), false),
        };
        if ["|", "||", "&&", ";"].contains(&word.as_str()) {
            out.push(std::mem::take(&mut current));
            continue;
        }
        current.push(word);
        if ends {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.into_iter()
        .filter(|c| c.first().map(String::as_str) == Some("metricpipe"))
        .collect()
}

fn parse(args: &[String]) -> Result<Cli, clap::Error> {
    let os: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    Cli::try_parse_from(crate::cmd::agent::rewrite_args(os))
}

#[test]
fn every_example_in_every_help_parses_with_the_real_parser() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, cmd) in all_commands() {
        // The raw text, not the rendered help: rendering wraps long lines.
        let help = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        for line in example_lines(&help) {
            for args in invocations(&line) {
                checked += 1;
                if let Err(e) = parse(&args) {
                    failures.push(format!("{}: `{line}`\n  {}", path.join(" "), e.kind()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples that do not parse:\n{}",
        failures.join("\n")
    );
    // The extractor must actually find the examples: there are well over 30 of them.
    assert!(checked >= 30, "only {checked} examples found");
}

#[test]
fn the_example_extractor_splits_pipelines_and_drops_comments() {
    let lines = example_lines(
        "Intro\n\nExamples:\n  metricpipe local kill 2 && sleep 1 && metricpipe local start 2\n  printf '%s\\n' '{\"a\":1}' | metricpipe streams --dry-run   # no broker\n\nAfter",
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(invocations(&lines[0]).len(), 2);
    let second = invocations(&lines[1]);
    assert_eq!(second, vec![vec!["metricpipe", "streams", "--dry-run"]]);
}

#[test]
fn streams_help_no_longer_suggests_an_agent_flag_that_does_not_exist() {
    let help = Cli::command()
        .find_subcommand("streams")
        .and_then(|c| c.get_after_help())
        .map(|h| h.to_string())
        .expect("streams has examples");
    assert!(!help.contains("--console"), "{help}");
    assert!(help.contains("-E output.console.enabled=true -E output.kafka.enabled=false"));
}

#[test]
fn every_option_and_argument_has_help_text() {
    let mut missing = Vec::new();
    for (path, cmd) in all_commands() {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if ["help", "version"].contains(&id) {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{} {id}", path.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "options without help: {missing:?}");
}

/// The bootstrap servers a parsed command line ended up with, wherever the flag sits.
fn bootstrap_of(args: &[&str]) -> Option<String> {
    let os = args.iter().map(std::ffi::OsString::from);
    let matches = Cli::command()
        .try_get_matches_from(crate::cmd::agent::rewrite_args(os))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut m = &matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m.try_get_one::<String>("bootstrap_servers")
        .ok()
        .flatten()
        .cloned()
}

#[test]
fn every_command_that_names_brokers_takes_all_three_spellings() {
    let commands: &[&[&str]] = &[
        &["streams"],
        &["bench"],
        &["bench", "latency"],
        &["bench", "passthrough"],
        &["bench", "count", "--topic", "t"],
        &["loadgen"],
        &["tail", "metric.all"],
        &["top"],
        &["topics", "create"],
        &["topics", "describe"],
    ];
    for command in commands {
        for flag in ["-b", "--bootstrap-server", "--bootstrap-servers"] {
            let mut args = vec!["metricpipe"];
            args.extend_from_slice(command);
            args.extend([flag, "kafka-1:9092,kafka-2:9092"]);
            assert_eq!(
                bootstrap_of(&args).as_deref(),
                Some("kafka-1:9092,kafka-2:9092"),
                "{args:?}"
            );
        }
    }
}

#[test]
fn help_shows_kafkas_spelling_of_the_flag() {
    for (path, mut cmd) in all_commands() {
        if cmd
            .get_arguments()
            .any(|a| a.get_id() == "bootstrap_servers")
        {
            let help = cmd.render_help().to_string();
            assert!(
                help.contains("-b, --bootstrap-server <HOST:PORT,...>"),
                "{}: {help}",
                path.join(" ")
            );
        }
    }
}

#[test]
fn options_named_in_the_issue_say_their_unit_or_default() {
    let help = |path: &[&str]| {
        let mut cmd = Cli::command();
        let mut cur = &mut cmd;
        for p in path {
            cur = cur.find_subcommand_mut(p).expect("subcommand");
        }
        cur.render_help().to_string()
    };
    let create = help(&["topics", "create"]);
    assert!(create.contains("Partitions of each topic"), "{create}");
    assert!(create.contains("[default: 3]"), "{create}");
    assert!(create.contains("Copies of each partition"), "{create}");
    assert!(create.contains("[default: 2]"), "{create}");
    let bench = help(&["bench"]);
    assert!(bench.contains("Seed of the backlog"), "{bench}");
    let up = help(&["local", "up"]);
    assert!(up.contains("0 picks free ports"), "{up}");
}

#[test]
fn log_help_states_the_order_of_rust_log_and_the_flag() {
    let help = Cli::command().render_help().to_string();
    assert!(help.contains("then RUST_LOG, then --log"), "{help}");
}

#[test]
fn completions_and_man_pages_come_from_the_parser() {
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "metricpipe", &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("bootstrap-server"), "{shell}: no flag");
        assert!(text.contains("streams"), "{shell}: no command");
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .expect("render");
    let page = String::from_utf8(page).expect("utf-8");
    assert!(
        page.starts_with(".ie") || page.contains(".TH metricpipe 1"),
        "{page}"
    );
    assert!(page.contains("metricpipe\\-streams(1)") || page.contains("streams"));
}

#[path = "../tests/support/runnable_examples.rs"]
mod runnable;
use runnable::runnable_examples;

/// An example that needs no broker: it reads stdin, describes, prints to the console, or
/// prints what the parser generates.
fn needs_no_broker(line: &str) -> bool {
    [
        "--dry-run",
        "--describe",
        "output.kafka.enabled=false",
        "metricpipe completions",
        "metricpipe man",
    ]
    .iter()
    .any(|p| line.contains(p))
}

#[test]
fn every_example_that_needs_no_broker_is_run_by_the_binary_tests() {
    let listed = runnable_examples();
    let mut found = Vec::new();
    for (path, cmd) in all_commands() {
        let name = path.last().cloned().unwrap_or_default();
        let help = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        for line in example_lines(&help) {
            if needs_no_broker(&line) {
                let entry = (name.clone(), line);
                assert!(
                    listed.contains(&entry),
                    "not in tests/data/runnable_examples.txt: {entry:?}"
                );
                found.push(entry);
            }
        }
    }
    for entry in &listed {
        assert!(
            found.contains(entry),
            "listed but not in any --help: {entry:?}"
        );
    }
}

#[test]
fn process_substitutions_are_invocations_too() {
    assert_eq!(
        invocations("source <(metricpipe completions bash)"),
        vec![vec!["metricpipe", "completions", "bash"]]
    );
}
