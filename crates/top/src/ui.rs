//! The ratatui view: a header with the pipeline's rates, the host table, the alert feed and
//! one CPU sparkline per host. Lays out on 80x24 and grows with the terminal.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, List, ListItem, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

use crate::model::{Dashboard, SortKey, TopicRole};

/// What the view needs besides the dashboard.
#[derive(Debug, Clone)]
pub struct ViewState {
    pub sort: SortKey,
    /// Hosts scrolled past at the top of the table and the sparklines.
    pub scroll: usize,
    pub descending: bool,
    /// Shown in the title, e.g. the bootstrap servers.
    pub source: String,
    /// A problem to show in the footer (consumer error, missing topics), if any.
    pub problem: Option<String>,
    /// Wall clock, ms since the epoch: rates and ages are relative to it.
    pub now_ms: i64,
}

const ALERT_PCT: f64 = 50.0;

fn pct_cell(p: Option<f64>) -> Cell<'static> {
    match p {
        Some(v) => {
            let style = if v > 90.0 {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else if v > ALERT_PCT {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default().fg(Color::Green)
            };
            Cell::from(format!("{v:>6.1}")).style(style)
        }
        None => Cell::from(format!("{:>6}", "-")),
    }
}

fn age(now_ms: i64, then_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else {
        format!("{}h", s / 3600)
    }
}

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, dash: &Dashboard, view: &ViewState) {
    let area = frame.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Length(1),
        ])
        .split(area);
    draw_title(frame, rows[0], dash, view);
    draw_rates(frame, rows[1], dash, view);

    // Hosts and alerts side by side on top, sparklines below when there is room.
    let spark_height = if rows[2].height >= 16 {
        (dash.host_count() as u16 + 2).clamp(3, rows[2].height / 2)
    } else {
        0
    };
    let body = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(5), Constraint::Length(spark_height)])
        .split(rows[2]);
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .split(body[0]);
    draw_hosts(frame, top[0], dash, view);
    draw_alerts(frame, top[1], dash);
    if spark_height > 0 {
        draw_sparklines(frame, body[1], dash, view);
    }
    draw_footer(frame, rows[3], view);
}

fn draw_title(frame: &mut Frame, area: Rect, dash: &Dashboard, view: &ViewState) {
    let line = Line::from(vec![
        Span::styled(
            " metricpipe top ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        // The bootstrap list goes last: on a narrow screen it is what gets cut.
        Span::raw(format!(
            " hosts {}  alerts {}  {}",
            dash.host_count(),
            dash.total(TopicRole::Alert),
            view.source
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_rates(frame: &mut Frame, area: Rect, dash: &Dashboard, view: &ViewState) {
    let mut spans = vec![Span::styled(
        " rec/s ",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for role in TopicRole::ALL {
        spans.push(Span::raw(format!(
            " {} {:.1} ",
            role.label(),
            dash.rate(role, view.now_ms)
        )));
    }
    if dash.unreadable() > 0 {
        spans.push(Span::styled(
            format!(" unreadable {}", dash.unreadable()),
            Style::default().fg(Color::Red),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_hosts(frame: &mut Frame, area: Rect, dash: &Dashboard, view: &ViewState) {
    let arrow = if view.descending { "▼" } else { "▲" };
    let header_label = |key: SortKey, label: &str| {
        if key == view.sort {
            format!("{label}{arrow}")
        } else {
            label.to_string()
        }
    };
    let header = Row::new(vec![
        Cell::from(header_label(SortKey::Host, "HOST")),
        Cell::from(format!("{:>6}", header_label(SortKey::Cpu, "CPU%"))),
        Cell::from(format!("{:>6}", header_label(SortKey::Memory, "MEM%"))),
        Cell::from(format!("{:>5}", header_label(SortKey::LastSeen, "SEEN"))),
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = dash
        .hosts_sorted(view.sort, view.descending)
        .into_iter()
        .skip(view.scroll)
        .map(|h| {
            Row::new(vec![
                Cell::from(h.name.clone()),
                pct_cell(h.cpu_pct),
                pct_cell(h.mem_pct),
                Cell::from(format!("{:>5}", age(view.now_ms, h.last_seen_ms))),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Min(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(5),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(" hosts "));
    frame.render_widget(table, area);
    if empty && area.height > 3 && area.width > 4 {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width - 4, 1);
        frame.render_widget(
            Paragraph::new("waiting for metric.all records…")
                .style(Style::default().fg(Color::DarkGray)),
            inner,
        );
    }
}

fn draw_alerts(frame: &mut Frame, area: Rect, dash: &Dashboard) {
    let items: Vec<ListItem> = dash
        .recent_alerts()
        .take(area.height as usize)
        .map(|a| {
            // `2025-12-28T04:56:17.004Z` -> `04:56:17`: the date is rarely news on a live screen.
            let time = a.timestamp.get(11..19).unwrap_or(&a.timestamp);
            let pct = a
                .cpu_pct
                .map(|p| format!("{p:5.1}%"))
                .unwrap_or_else(|| "    -".into());
            ListItem::new(Line::from(vec![
                Span::styled(format!("{time} "), Style::default().fg(Color::DarkGray)),
                Span::styled(pct, Style::default().fg(Color::Red)),
                Span::raw(format!(" {}", a.host)),
            ]))
        })
        .collect();
    let list = List::new(items).block(
        Block::default()
            .borders(Borders::ALL)
            .title(" cpu alerts (newest first) "),
    );
    frame.render_widget(list, area);
}

fn draw_sparklines(frame: &mut Frame, area: Rect, dash: &Dashboard, view: &ViewState) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" cpu % history (0-100) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let hosts: Vec<_> = dash
        .hosts_sorted(view.sort, view.descending)
        .into_iter()
        .skip(view.scroll)
        .collect();
    let label_width = hosts
        .iter()
        .map(|h| h.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 20) as u16;
    for (i, h) in hosts.iter().take(inner.height as usize).enumerate() {
        let y = inner.y + i as u16;
        let label = Rect::new(inner.x, y, label_width.min(inner.width), 1);
        frame.render_widget(Paragraph::new(h.name.clone()), label);
        let spark_x = inner.x + label_width + 1;
        if spark_x >= inner.x + inner.width {
            continue;
        }
        let width = inner.x + inner.width - spark_x;
        // The newest samples that fit, right-aligned like a scrolling chart.
        let data: Vec<u64> = h
            .cpu_history
            .iter()
            .rev()
            .take(width as usize)
            .rev()
            .map(|p| p.round().clamp(0.0, 100.0) as u64)
            .collect();
        let spark = Sparkline::default()
            .data(&data)
            .max(100)
            .style(Style::default().fg(Color::Cyan));
        frame.render_widget(spark, Rect::new(spark_x, y, width, 1));
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, view: &ViewState) {
    let line = match &view.problem {
        Some(p) => Line::from(Span::styled(
            format!(" {p}"),
            Style::default().fg(Color::Red),
        )),
        None => Line::from(Span::styled(
            " sort: h host  c cpu  m mem  s seen  r reverse  ↑↓ scroll  q quit",
            Style::default().fg(Color::DarkGray),
        )),
    };
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(dash: &Dashboard, view: &ViewState, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        term.draw(|f| draw(f, dash, view)).expect("draw");
        let buf = term.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn sample() -> (Dashboard, ViewState) {
        let mut d = Dashboard::new();
        let now = 1_000_000;
        for (i, (host, cpu)) in [("web-1", 0.91), ("db-1", 0.2), ("cache-1", 0.55)]
            .iter()
            .enumerate()
        {
            for k in 0..30 {
                let p = format!(
                    r#"{{"host":{{"name":"{host}"}},"metricset":{{"name":"cpu"}},"system":{{"cpu":{{"total":{{"norm":{{"pct":{}}}}}}}}}}}"#,
                    cpu * (k as f64 / 30.0)
                );
                d.apply(
                    TopicRole::All,
                    p.as_bytes(),
                    now - 30_000 + k * 1000 + i as i64,
                );
            }
            let m = format!(
                r#"{{"host":{{"name":"{host}"}},"metricset":{{"name":"memory"}},"system":{{"memory":{{"actual":{{"used":{{"pct":0.42}}}}}}}}}}"#
            );
            d.apply(TopicRole::All, m.as_bytes(), now - 500);
        }
        d.apply(
            TopicRole::Alert,
            br#"{"name":"web-1","cpu":{"usage":0.91},"timestamp":"2025-12-28T04:56:17.004Z"}"#,
            now - 1000,
        );
        let view = ViewState {
            sort: SortKey::Cpu,
            scroll: 0,
            descending: true,
            source: "127.0.0.1:9092".into(),
            problem: None,
            now_ms: now,
        };
        (d, view)
    }

    #[test]
    fn fits_80x24_with_hosts_alerts_and_rates() {
        let (d, view) = sample();
        let s = screen(&d, &view, 80, 24);
        assert!(s.contains("metricpipe top"), "{s}");
        assert!(s.contains("web-1"), "{s}");
        assert!(s.contains("cache-1"), "{s}");
        assert!(s.contains("04:56:17"), "{s}");
        assert!(s.contains("q quit"), "{s}");
        assert!(s.contains("CPU%▼"), "{s}");
        // Sorted by cpu, descending: web-1 above cache-1 above db-1 in the table.
        let pos = |n: &str| s.find(n).unwrap_or(usize::MAX);
        assert!(
            pos("web-1") < pos("cache-1") && pos("cache-1") < pos("db-1"),
            "{s}"
        );
    }

    #[test]
    fn scrolling_skips_the_first_hosts() {
        let (d, mut view) = sample();
        view.scroll = 1;
        let s = screen(&d, &view, 80, 24);
        // Sorted by cpu: web-1 is scrolled out of the table (it stays in the alert feed).
        assert!(!s.contains("│web-1 "), "{s}");
        assert!(s.contains("│cache-1 "), "{s}");
    }

    #[test]
    fn a_large_terminal_shows_sparklines() {
        let (d, view) = sample();
        let s = screen(&d, &view, 160, 50);
        assert!(s.contains("cpu % history"), "{s}");
        assert!(s.contains('█') || s.contains('▇'), "{s}");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let (d, view) = sample();
        for (w, h) in [(1, 1), (10, 5), (20, 8), (80, 10)] {
            let _ = screen(&d, &view, w, h);
        }
        let _ = screen(&Dashboard::new(), &view, 80, 24);
    }
}
