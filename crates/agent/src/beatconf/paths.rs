//! The four directories of a Beat (`path.home`, `path.config`, `path.data`, `path.logs`) and
//! the `${path.*}` references to them that settings may hold.

use std::path::PathBuf;

/// A Beat's four directories, resolved: `path.home` defaults to the current directory,
/// the others to their place under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    pub home: PathBuf,
    pub config: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
}

impl ConfigPaths {
    /// Expand `${path.home}`, `${path.config}`, `${path.data}` and `${path.logs}` in `text`.
    pub fn expand(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, dir) in [
            ("home", &self.home),
            ("config", &self.config),
            ("data", &self.data),
            ("logs", &self.logs),
        ] {
            out = out.replace(&format!("${{path.{name}}}"), &dir.to_string_lossy());
        }
        out
    }
}
