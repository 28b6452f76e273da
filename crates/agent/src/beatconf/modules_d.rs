//! Module files: a glob (by default `${path.config}/modules.d/*.yml`) names files that each
//! hold a YAML list of module entries, as libbeat's `cfgfile.GlobWatcher` and
//! `cfgfile.LoadList` read them. `*.disabled` files do not match `*.yml` and so are skipped,
//! as in libbeat. `--strict.perms` applies to every file read: see [`check_perms`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tree::Node;
use crate::error::ConfigError;

/// The tracing target of this module's log lines, which `-d` selectors name.
pub const LOG_TARGET: &str = module_path!();

/// The module files setting, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModulesGlob {
    /// The setting the glob came from, which errors about it name.
    pub key: String,
    /// The glob with `${path.*}` expanded and made absolute against `path.config`.
    pub pattern: PathBuf,
    /// `reload.enabled: true`: how often to look for added, changed or removed files
    /// (`reload.period`, default 10 s).
    pub reload: Option<Duration>,
}

/// One module file as read: its path, its length and modification time (what reloading
/// compares), and its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleFile {
    pub path: PathBuf,
    pub stamp: (u64, Option<std::time::SystemTime>),
    pub entries: Vec<Node>,
}

fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

/// The files the glob matches now, sorted by name (Go's `filepath.Glob` order), each parsed.
pub fn read_module_files(
    glob: &ModulesGlob,
    strict_perms: bool,
) -> Result<Vec<ModuleFile>, ConfigError> {
    let mut out = Vec::new();
    for path in expand_glob(&glob.key, &glob.pattern)? {
        if strict_perms {
            check_perms(&path)?;
        }
        let read = |source| ConfigError::Read {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(read)?;
        let text = std::fs::read_to_string(&path).map_err(read)?;
        let entries = match Node::from_yaml(&text, &path.display().to_string())? {
            Node::List(items) => items,
            Node::Null => Vec::new(),
            other => {
                return Err(invalid(
                    &path.display().to_string(),
                    format!(
                        "a module file holds a list of modules (`- module: system`), got {}",
                        other.type_name()
                    ),
                ))
            }
        };
        out.push(ModuleFile {
            stamp: (meta.len(), meta.modified().ok()),
            path,
            entries,
        });
    }
    Ok(out)
}

/// A file's path, length and modification time.
pub type FileStamp = (PathBuf, u64, Option<std::time::SystemTime>);

/// The (length, mtime) of every matching file: what reloading compares between polls.
pub fn stamps(glob: &ModulesGlob) -> Vec<FileStamp> {
    expand_glob(&glob.key, &glob.pattern)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            Some((p, m.len(), m.modified().ok()))
        })
        .collect()
}

/// Expand a glob whose wildcards (`*`, `?`, `[...]`) are in the file name; the directory
/// part is taken literally. A missing directory matches nothing, as in Go.
fn expand_glob(key: &str, pattern: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Err(invalid(
            key,
            format!("{} names no files", pattern.display()),
        ));
    };
    let dir_text = dir.to_string_lossy();
    if dir_text.contains(['*', '?', '[']) {
        return Err(invalid(
            key,
            format!(
                "{}: wildcards are supported in the file name only, e.g. /etc/metricbeat/modules.d/*.yml",
                pattern.display()
            ),
        ));
    }
    let name = name.to_string_lossy();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => return Ok(Vec::new()),
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

/// Go's `filepath.Match` for one path element: `*`, `?`, `[abc]`, `[a-z]`, `[^a]`, `\x`.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| match_from(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return false;
            };
            let Some(c) = n.first() else { return false };
            let class = &p[1..close];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= (class[i]..=class[i + 2]).contains(c);
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            hit != negate && match_from(&p[close + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_from(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && match_from(&p[1..], &n[1..]),
    }
}

/// Metricbeat's `--strict.perms` rule (libbeat `OwnerHasExclusiveWritePerms`): a config
/// file must be owned by the running user or root, and must not be writable by group or
/// others.
pub fn check_perms(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(ConfigError::Perms(format!(
            "config file (\"{}\") must be owned by the user identifier (uid={euid}) or root",
            path.display()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        return Err(ConfigError::Perms(format!(
            "config file (\"{}\") can only be writable by the owner but the permissions are \"{}\" (to fix the permissions use: 'chmod go-w {}')",
            path.display(),
            mode_string(mode),
            abs.display()
        )));
    }
    Ok(())
}

/// Go's `os.FileMode.String` for a regular file: `-rw-rw-r--`.
fn mode_string(mode: u32) -> String {
    let mut out = String::from("-");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match() {
        assert!(wildcard_match("*.yml", "system.yml"));
        assert!(!wildcard_match("*.yml", "system.yml.disabled"));
        assert!(!wildcard_match("*.yml", "system.yaml"));
        assert!(wildcard_match("s?stem.yml", "system.yml"));
        assert!(wildcard_match("[a-s]*.yml", "system.yml"));
        assert!(!wildcard_match("[^s]*.yml", "system.yml"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a\\*", "a*"));
    }

    #[test]
    fn perms_follow_metricbeat() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("metricbeat.yml");
        std::fs::write(&f, "x: 1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        check_perms(&f).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
        let err = check_perms(&f).unwrap_err().to_string();
        assert!(
            err.contains("-rw-rw-r--") && err.contains("chmod go-w"),
            "{err}"
        );
        assert!(err.contains("--strict.perms=false"), "{err}");
    }
}
