//! The dashboard's keys: `h c m s` sort by host, cpu, memory, last seen (again: reverse),
//! `r` reverses, Up/Down/`j`/`k`, PgUp/PgDn and Home scroll, `q`, Esc or Ctrl-C quit.

use ratatui::crossterm::event::{KeyCode, KeyModifiers};

use crate::model::SortKey;
use crate::ui::ViewState;

/// What a key press asks of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Quit,
    /// Draw again: the view may have changed.
    Redraw,
}

impl ViewState {
    /// Applies one pressed key to the view (sort, direction, scroll).
    pub fn on_key(&mut self, code: KeyCode, modifiers: KeyModifiers) -> KeyAction {
        let ctrl_c = code == KeyCode::Char('c') && modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c || matches!(code, KeyCode::Char('q') | KeyCode::Esc) {
            return KeyAction::Quit;
        }
        let key = match code {
            KeyCode::Char('h') => Some(SortKey::Host),
            KeyCode::Char('c') => Some(SortKey::Cpu),
            KeyCode::Char('m') => Some(SortKey::Memory),
            KeyCode::Char('s') => Some(SortKey::LastSeen),
            _ => None,
        };
        match (key, code) {
            (Some(key), _) if key == self.sort => self.descending = !self.descending,
            (Some(key), _) => {
                self.sort = key;
                // Names read best A-Z; figures highest first.
                self.descending = key != SortKey::Host;
            }
            (None, KeyCode::Char('r')) => self.descending = !self.descending,
            (None, KeyCode::Down | KeyCode::Char('j')) => self.scroll += 1,
            (None, KeyCode::Up | KeyCode::Char('k')) => self.scroll = self.scroll.saturating_sub(1),
            (None, KeyCode::PageDown) => self.scroll += 10,
            (None, KeyCode::PageUp) => self.scroll = self.scroll.saturating_sub(10),
            (None, KeyCode::Home) => self.scroll = 0,
            _ => {}
        }
        KeyAction::Redraw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ViewState {
        ViewState {
            sort: SortKey::Cpu,
            scroll: 0,
            descending: true,
            source: String::new(),
            problem: None,
            now_ms: 0,
        }
    }

    #[test]
    fn sort_keys_pick_then_reverse_and_scrolling_stops_at_the_top() {
        let mut v = view();
        let none = KeyModifiers::NONE;
        assert_eq!(v.on_key(KeyCode::Char('h'), none), KeyAction::Redraw);
        assert_eq!((v.sort, v.descending), (SortKey::Host, false));
        v.on_key(KeyCode::Char('h'), none);
        assert!(v.descending);
        v.on_key(KeyCode::Char('m'), none);
        assert_eq!((v.sort, v.descending), (SortKey::Memory, true));
        v.on_key(KeyCode::Char('r'), none);
        assert!(!v.descending);
        v.on_key(KeyCode::PageDown, none);
        v.on_key(KeyCode::Up, none);
        assert_eq!(v.scroll, 9);
        v.on_key(KeyCode::PageUp, none);
        assert_eq!(v.scroll, 0);
        assert_eq!(v.on_key(KeyCode::Char('x'), none), KeyAction::Redraw);
        assert_eq!(v.on_key(KeyCode::Char('q'), none), KeyAction::Quit);
        assert_eq!(v.on_key(KeyCode::Esc, none), KeyAction::Quit);
        assert_eq!(
            v.on_key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            KeyAction::Quit
        );
    }
}
