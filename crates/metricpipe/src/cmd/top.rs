//! `metricpipe top`: the live dashboard. The model, reader and view are in `metricpipe-top`;
//! this file owns the terminal: raw mode, the alternate screen, reading keys and the
//! refresh loop.

use std::io::{IsTerminal, Stdout};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use metricpipe_kafka::topics;
use metricpipe_top::keys::KeyAction;
use metricpipe_top::reader::now_ms;
use metricpipe_top::ui::{draw, ViewState};
use metricpipe_top::{Dashboard, Reader, ReaderOptions, SortKey};
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::prelude::CrosstermBackend;
use ratatui::Terminal;

use super::signals;

#[derive(Args)]
#[command(
    after_help = "Keys: h c m s sort by host, cpu, memory, last seen (again: reverse); r reverse;\n      Up/Down, PgUp/PgDn, Home scroll the hosts; q (or Ctrl-C) quits.\n\nExamples:\n  metricpipe top                              # the local cluster on 127.0.0.1:9092\n  metricpipe top -b kafka-1:9092 --lookback 15m"
)]
pub struct TopArgs {
    #[command(flatten)]
    brokers: super::Brokers,
    /// Read back this much history at start, by record timestamp
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    lookback: Duration,
    /// Screen refresh interval
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    refresh: Duration,
    /// The agent's output topic
    #[arg(long, default_value = topics::INPUT)]
    all_topic: String,
    /// The cpu topic
    #[arg(long, default_value = topics::CPU)]
    cpu_topic: String,
    /// The memory topic
    #[arg(long, default_value = topics::MEMORY)]
    memory_topic: String,
    /// The alert topic
    #[arg(long, default_value = topics::ALERT)]
    alert_topic: String,
}

pub fn run(args: TopArgs) -> anyhow::Result<()> {
    let mut opts = ReaderOptions::new(&args.brokers.bootstrap_servers);
    opts.client_properties = args.brokers.client_properties()?;
    opts.lookback = args.lookback;
    opts.topics.all = args.all_topic;
    opts.topics.cpu = args.cpu_topic;
    opts.topics.memory = args.memory_topic;
    opts.topics.alert = args.alert_topic;
    signals::install()?;
    let bootstrap = opts.bootstrap_servers.clone();
    run_dashboard(opts, args.refresh, &mut || None)
        .map_err(|e| super::with_local_hint(e, &bootstrap))
}

/// Restores the terminal however the dashboard ends (return, error or panic).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Run the dashboard in this terminal until `q`, Ctrl-C or a [`signals::request`].
/// `watch` is asked at each refresh for a problem to show (the demo reports a child that
/// exited); the Kafka reader's own problems come first.
pub fn run_dashboard(
    opts: ReaderOptions,
    refresh: Duration,
    watch: &mut dyn FnMut() -> Option<String>,
) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        bail!("top needs a terminal; to read a topic from a script use `metricpipe tail TOPIC`");
    }
    let source = opts.bootstrap_servers.clone();
    let reader = Reader::start(opts).context("starting the dashboard's reader")?;
    let mut dash = Dashboard::new();
    let mut view = ViewState {
        sort: SortKey::Cpu,
        scroll: 0,
        descending: true,
        source,
        problem: None,
        now_ms: now_ms(),
    };
    let (_guard, mut terminal) = open_terminal()?;
    let mut last_draw = Instant::now() - refresh;
    let mut dirty = true;
    while !signals::requested() {
        for rec in reader.drain(50_000) {
            dash.apply(rec.role, &rec.payload, rec.timestamp_ms);
        }
        if dirty || last_draw.elapsed() >= refresh {
            view.now_ms = now_ms();
            view.scroll = view.scroll.min(dash.host_count().saturating_sub(1));
            dash.trim(view.now_ms);
            view.problem = match (reader.last_error(), reader.missing_topics()) {
                (Some(e), _) => Some(format!("kafka: {e}")),
                (None, m) if !m.is_empty() => Some(format!("missing topics: {}", m.join(", "))),
                _ => watch(),
            };
            terminal
                .draw(|f| draw(f, &dash, &view))
                .context("drawing the dashboard")?;
            last_draw = Instant::now();
            dirty = false;
        }
        match next_key(&mut view)? {
            Some(KeyAction::Quit) => break,
            Some(KeyAction::Redraw) => dirty = true,
            None => {}
        }
    }
    // Quitting the dashboard also ends a demo around it.
    signals::request();
    Ok(())
}

/// Raw mode and the alternate screen, restored when the guard drops or on a panic.
fn open_terminal() -> anyhow::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous_hook(info);
    }));
    enable_raw_mode().context("switching the terminal to raw mode")?;
    let guard = TerminalGuard;
    execute!(std::io::stdout(), EnterAlternateScreen).context("entering the alternate screen")?;
    let mut terminal =
        Terminal::new(CrosstermBackend::new(std::io::stdout())).context("opening the terminal")?;
    terminal.clear().ok();
    Ok((guard, terminal))
}

/// Waits up to 100 ms for a key or a resize; `None` when nothing came.
fn next_key(view: &mut ViewState) -> anyhow::Result<Option<KeyAction>> {
    if !event::poll(Duration::from_millis(100)).context("reading the keyboard")? {
        return Ok(None);
    }
    Ok(match event::read().context("reading the keyboard")? {
        Event::Key(k) if k.kind != KeyEventKind::Release => Some(view.on_key(k.code, k.modifiers)),
        Event::Resize(_, _) => Some(KeyAction::Redraw),
        _ => None,
    })
}
