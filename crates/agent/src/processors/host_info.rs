//! The Linux host facts that Metricbeat's `add_host_metadata` takes from go-sysinfo
//! (`providers/linux`: os.go, machineid.go, container.go), read under a hostfs root.
//!
//! Rules, from go-sysinfo's code:
//! - OS: `<root>/etc/lsb-release` followed by `<root>/etc/os-release` are read as one list
//!   of `KEY=value` lines (later keys win; a value that Go's `strconv.Unquote` accepts is
//!   unquoted). platform = `ID` or `DISTRIB_ID`, name = `NAME` or `PRETTY_NAME`, version =
//!   `VERSION`, `VERSION_ID` or `DISTRIB_RELEASE`, build = `BUILD_ID`, codename =
//!   `VERSION_CODENAME`, `DISTRIB_CODENAME`, any `*CODENAME*` key, then the `(codename)` of
//!   the version. Family from the platform (exact, then prefix), then from `ID_LIKE`.
//!   Without os-release, the first non-empty `/etc/<distrib>-release` (sorted) is parsed;
//!   the redhat family always takes its codename from that file.
//! - id: the first of `/etc/machine-id`, `/var/lib/dbus/machine-id`,
//!   `/var/db/dbus/machine-id` under the root, trimmed.
//! - containerized: `/proc/1/cgroup` as the agent sees it (go-sysinfo does not prefix the
//!   hostfs here) mentions docker, `.slice`, lxc or kubepods.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

/// `host.os.*` as go-sysinfo's `types.OSInfo` gives it (the fields Metricbeat writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsInfo {
    pub os_type: String,
    pub family: String,
    pub platform: String,
    pub name: String,
    pub version: String,
    pub codename: String,
    pub build: String,
}

const FAMILIES: [(&str, &[&str]); 5] = [
    ("alpine", &["alpine"]),
    ("arch", &["arch", "antergos", "manjaro"]),
    (
        "redhat",
        &[
            "redhat",
            "fedora",
            "centos",
            "scientific",
            "oraclelinux",
            "ol",
            "amzn",
            "rhel",
            "almalinux",
            "openeuler",
            "rocky",
        ],
    ),
    ("debian", &["debian", "ubuntu", "raspbian", "linuxmint"]),
    ("suse", &["suse", "sles", "opensuse"]),
];

const MACHINE_ID_FILES: [&str; 3] = [
    "etc/machine-id",
    "var/lib/dbus/machine-id",
    "var/db/dbus/machine-id",
];

// go-sysinfo's version patterns; Go's `\w` is ASCII-only, hence the explicit classes.
const VERSION: &str = r"(?P<version>(?P<major>[0-9]+)\.?(?P<minor>[0-9]+)?\.?(?P<patch>[0-9A-Za-z_]+)?)(?: \((?P<codename>[-0-9A-Za-z_ ]+)\))?";
const VERSION_SUSE: &str = r"(?P<version>(?P<major>[0-9]+)(?:[.-]?(?:SP)?(?P<minor>[0-9]+))?(?:[.-](?P<patch>[0-9]+|[0-9A-Za-z_]+))?)(?: \((?P<codename>[-0-9A-Za-z_ ]+)\))?";

fn regex(cell: &'static OnceLock<Regex>, pattern: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&pattern()).expect("a fixed pattern compiles"))
}

fn version_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(&RE, || VERSION.to_string())
}

fn version_suse_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(&RE, || VERSION_SUSE.to_string())
}

fn distrib_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(&RE, || format!(r"(?P<name>[0-9A-Za-z_]+).* {VERSION}"))
}

/// The family of a platform: exact match first, then a known platform that prefixes it
/// (`opensuse-leap` is suse); empty when unknown.
pub fn linux_family(platform: &str) -> String {
    let p = platform.to_lowercase();
    if p.is_empty() {
        return String::new();
    }
    let all = || {
        FAMILIES
            .iter()
            .flat_map(|(f, ps)| ps.iter().map(move |x| (*f, *x)))
    };
    all()
        .find(|(_, x)| *x == p)
        .or_else(|| all().find(|(_, x)| p.starts_with(x)))
        .map(|(f, _)| f.to_string())
        .unwrap_or_default()
}

/// Go's `strconv.Unquote` for the forms os-release files use; `None` where Go fails (then
/// go-sysinfo keeps the value as written, quotes included).
fn go_unquote(v: &str) -> Option<String> {
    if v.len() >= 2 && v.starts_with('`') && v.ends_with('`') {
        let inner = &v[1..v.len() - 1];
        return (!inner.contains('`')).then(|| inner.replace('\r', ""));
    }
    let quote = v.chars().next()?;
    if v.len() < 2 || !(quote == '"' || quote == '\'') || !v.ends_with(quote) {
        return None;
    }
    let inner = &v[1..v.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'v' => '\x0b',
                '\\' => '\\',
                '\'' if quote == '\'' => '\'',
                '"' if quote == '"' => '"',
                _ => return None,
            }),
            '\n' => return None,
            c if c == quote => return None,
            c => out.push(c),
        }
    }
    // A single-quoted Go literal is one rune: `'abc'` does not unquote.
    if quote == '\'' && out.chars().count() != 1 {
        return None;
    }
    Some(out)
}

/// Parse `KEY=value` lines (lsb-release and os-release) as go-sysinfo does.
pub fn parse_os_release(content: &str) -> OsInfo {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for line in content.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let value = go_unquote(v).map_or_else(|| v.to_string(), |u| u.trim().to_string());
        fields.insert(k.to_string(), value);
    }
    os_info(&fields)
}

fn os_info(fields: &BTreeMap<String, String>) -> OsInfo {
    let first = |keys: &[&str]| {
        keys.iter()
            .filter_map(|k| fields.get(*k))
            .find(|v| !v.is_empty())
            .cloned()
            .unwrap_or_default()
    };
    let mut os = OsInfo {
        os_type: "linux".into(),
        platform: first(&["ID", "DISTRIB_ID"]),
        name: first(&["NAME", "PRETTY_NAME"]),
        version: first(&["VERSION", "VERSION_ID", "DISTRIB_RELEASE"]),
        build: first(&["BUILD_ID"]),
        codename: first(&["VERSION_CODENAME", "DISTRIB_CODENAME"]),
        family: String::new(),
    };
    if os.codename.is_empty() {
        // go-sysinfo takes any *CODENAME* key (UBUNTU_CODENAME, ...) in map order; the
        // files that have several give them the same value.
        if let Some((_, v)) = fields.iter().find(|(k, _)| k.contains("CODENAME")) {
            os.codename = v.clone();
        }
    }
    if os.platform.is_empty() {
        os.platform = os.name.split(' ').next().unwrap_or_default().to_string();
    }
    os.family = linux_family(&os.platform);
    if os.family.is_empty() {
        let like = fields.get("ID_LIKE").map(String::as_str).unwrap_or("");
        os.family = like
            .split_whitespace()
            .map(linux_family)
            .find(|f| !f.is_empty())
            .unwrap_or_default();
    }
    let re = if fields.get("ID_LIKE").is_some_and(|l| l == "suse") {
        version_suse_re()
    } else {
        version_re()
    };
    if os.codename.is_empty() && !os.version.is_empty() {
        if let Some(c) = re.captures(&os.version).and_then(|c| c.name("codename")) {
            os.codename = c.as_str().to_string();
        }
    }
    os
}

/// Parse the first line of `/etc/<distrib>-release` (`CentOS release 6.9 (Final)`).
pub fn parse_distrib_release(platform: &str, first_line: &str) -> OsInfo {
    let mut os = OsInfo {
        os_type: "linux".into(),
        platform: platform.to_string(),
        ..OsInfo::default()
    };
    if let Some(c) = distrib_re().captures(first_line.trim()) {
        let get = |n| c.name(n).map_or("", |m| m.as_str()).to_string();
        os.name = get("name");
        os.version = get("version");
        if let Some(code) = c.name("codename") {
            os.version = format!("{} ({})", os.version, code.as_str());
            os.codename = code.as_str().to_string();
        }
    }
    os.family = linux_family(&os.platform);
    os
}

fn find_distrib_release(root: &Path) -> Option<OsInfo> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("etc"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-release") && n != "os-release" && n != "lsb-release")
        .collect();
    files.sort();
    files.into_iter().find_map(|name| {
        let path = root.join("etc").join(&name);
        let meta = std::fs::metadata(&path).ok()?;
        if meta.is_dir() || meta.len() == 0 {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        // go-sysinfo needs a newline after the first line.
        let (first, _) = text.split_once('\n')?;
        let platform = name.split('-').next().unwrap_or_default().to_lowercase();
        Some(parse_distrib_release(&platform, first))
    })
}

/// `host.os.*` for the system under `root`, or `None` when no release file is readable.
/// The redhat family takes its codename from `/etc/<distrib>-release`; when that file is
/// missing go-sysinfo fails the whole host lookup, and here the os-release facts stay.
pub fn read_os(root: &Path) -> Option<OsInfo> {
    let lsb = std::fs::read_to_string(root.join("etc/lsb-release")).unwrap_or_default();
    let os_release = std::fs::read_to_string(root.join("etc/os-release"))
        .ok()
        .filter(|t| !t.is_empty());
    let Some(os_release) = os_release else {
        return find_distrib_release(root);
    };
    let mut os = parse_os_release(&(lsb + &os_release));
    if os.family == "redhat" {
        match find_distrib_release(root) {
            Some(d) => os.codename = d.codename,
            None => {
                tracing::debug!(root = %root.display(), "no /etc/<distrib>-release for a redhat-family system")
            }
        }
    }
    Some(os)
}

/// `host.id`: the machine-id under `root`, trimmed; `None` when no file exists.
pub fn machine_id(root: &Path) -> Option<String> {
    MACHINE_ID_FILES.iter().find_map(|f| {
        let path = root.join(f);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "machine-id is unreadable; host.id is left out");
                None
            }
        }
    })
}

/// `host.containerized` from the text of `/proc/1/cgroup`.
pub fn containerized_cgroup(text: &str) -> bool {
    text.lines().any(|l| {
        l.contains("docker") || l.contains(".slice") || l.contains("lxc") || l.contains("kubepods")
    })
}

/// `host.containerized`: `/proc/1/cgroup` as this process sees it; false when missing.
pub fn containerized(proc_one_cgroup: &Path) -> bool {
    std::fs::read_to_string(proc_one_cgroup).is_ok_and(|t| containerized_cgroup(&t))
}

#[cfg(test)]
#[path = "host_info_tests.rs"]
mod tests;
