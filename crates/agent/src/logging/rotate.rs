//! The agent's log files, rotated as Metricbeat's (elastic-agent-libs `file.Rotator` with
//! its date rotater): the active file is `<dir>/<name>-YYYYMMDD.ndjson` (local date); a
//! rotation opens `<name>-<today>.ndjson`, or `<name>-<today>-N.ndjson` with the next N when
//! today's already exists. Triggers: startup when the active file exists
//! (`rotateonstartup`), a write that would take the file past `rotateeverybytes`, and the
//! calendar period of `interval` changing (1s, 1m, 1h, 24h, 7d, 30d, 365d are calendar
//! units; other intervals count whole intervals since the epoch). After each rotation all
//! but the newest `keepfiles` files are removed. New files get `permissions`; the directory
//! gets 0700 plus r-x for group/others when the file mode gives them anything. A line
//! longer than `rotateeverybytes` is refused with an error, as logp does.
//!
//! tracing-appender's rolling appender rotates by time only, so the rotation is ours; its
//! non-blocking writer carries the lines to this one (see [`super::install`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::LogFiles;

const EXT: &str = ".ndjson";

/// Local calendar fields of `t`: (year, month 1-12, day, hour, minute, second, ISO week
/// as year*100+week).
fn local(t: SystemTime) -> [i64; 7] {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r and strftime write into the zeroed tm and the buffer we own.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 16];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%G%V".as_ptr(), &tm);
        let week = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.parse().ok());
        [
            i64::from(tm.tm_year) + 1900,
            i64::from(tm.tm_mon) + 1,
            i64::from(tm.tm_mday),
            i64::from(tm.tm_hour),
            i64::from(tm.tm_min),
            i64::from(tm.tm_sec),
            week.unwrap_or(0),
        ]
    }
}

/// The value that changes when a new `interval` period starts.
fn period(interval: Duration, t: SystemTime) -> Vec<i64> {
    let [y, mo, d, h, mi, s, week] = local(t);
    match interval.as_secs() {
        1 => vec![y, mo, d, h, mi, s],
        60 => vec![y, mo, d, h, mi],
        3600 => vec![y, mo, d, h],
        86_400 => vec![y, mo, d],
        604_800 => vec![week],
        2_592_000 => vec![y, mo],
        31_536_000 => vec![y],
        n => {
            let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            vec![(secs / n.max(1)) as i64]
        }
    }
}

fn date(t: SystemTime) -> String {
    let [y, mo, d, ..] = local(t);
    format!("{y:04}{mo:02}{d:02}")
}

/// A size-, time- and startup-rotated log file.
pub struct Rotator {
    dir: PathBuf,
    prefix: String,
    cfg: LogFiles,
    file: Option<File>,
    active: PathBuf,
    size: u64,
    period: Vec<i64>,
    clock: fn() -> SystemTime,
}

impl Rotator {
    /// Open (or rotate at startup) the active file under `cfg.path`.
    pub fn open(cfg: &LogFiles) -> io::Result<Rotator> {
        Self::open_with_clock(cfg, SystemTime::now)
    }

    pub(crate) fn open_with_clock(
        cfg: &LogFiles,
        clock: fn() -> SystemTime,
    ) -> io::Result<Rotator> {
        let mut r = Rotator {
            dir: cfg.path.clone(),
            prefix: format!("{}-", cfg.name),
            cfg: cfg.clone(),
            file: None,
            active: PathBuf::new(),
            size: 0,
            period: period(cfg.interval, clock()),
            clock,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(r.dir_mode())
            .create(&r.dir)?;
        r.active = r
            .files()?
            .pop()
            .map(|(_, p)| p)
            .unwrap_or_else(|| r.dir.join(format!("{}{}{EXT}", r.prefix, date(clock()))));
        match std::fs::symlink_metadata(&r.active) {
            Ok(meta) if cfg.rotate_on_startup || meta.file_type().is_symlink() => r.rotate()?,
            Ok(meta) => {
                r.size = meta.len();
                r.file = Some(OpenOptions::new().append(true).open(&r.active)?);
            }
            Err(_) => r.create()?,
        }
        Ok(r)
    }

    fn dir_mode(&self) -> u32 {
        let p = self.cfg.permissions;
        0o700 | if p & 0o070 != 0 { 0o050 } else { 0 } | if p & 0o007 != 0 { 0o005 } else { 0 }
    }

    /// This rotater's files, oldest first: (date, index) order.
    fn files(&self) -> io::Result<Vec<((String, u64), PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix(&self.prefix)
                .and_then(|r| r.strip_suffix(EXT))
            else {
                continue;
            };
            let (day, index) = match rest.split_once('-') {
                Some((d, i)) => (d, i.parse().unwrap_or(0)),
                None => (rest, 0),
            };
            if day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()) {
                out.push(((day.to_string(), index), self.dir.join(&name)));
            }
        }
        out.sort();
        Ok(out)
    }

    fn create(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(self.cfg.permissions)
            .open(&self.active)?;
        self.file = Some(file);
        self.size = 0;
        Ok(())
    }

    /// Close the active file, pick the next name, purge old files, open the new one.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let today = date((self.clock)());
        let last_today = self
            .files()?
            .into_iter()
            .filter(|((d, _), _)| *d == today)
            .map(|((_, i), _)| i)
            .max();
        let name = match last_today {
            None => format!("{}{today}{EXT}", self.prefix),
            Some(i) => format!("{}{today}-{}{EXT}", self.prefix, i + 1),
        };
        self.active = self.dir.join(name);
        let files = self.files()?;
        let excess = files.len().saturating_sub(self.cfg.keep_files as usize);
        for (_, path) in &files[..excess] {
            std::fs::remove_file(path)?;
        }
        self.create()
    }

    #[cfg(test)]
    pub fn active(&self) -> &std::path::Path {
        &self.active
    }
}

impl Write for Rotator {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let len = data.len() as u64;
        if len > self.cfg.rotate_every_bytes {
            return Err(io::Error::other(format!(
                "a log line of {len} bytes is larger than logging.files.rotateeverybytes ({})",
                self.cfg.rotate_every_bytes
            )));
        }
        let now_period = period(self.cfg.interval, (self.clock)());
        let by_time = !self.cfg.interval.is_zero() && now_period != self.period;
        if by_time || self.size + len > self.cfg.rotate_every_bytes || self.file.is_none() {
            self.period = now_period;
            self.rotate()?;
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("no log file"))?;
        file.write_all(data)?;
        self.size += len;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

#[cfg(test)]
#[path = "rotate_tests.rs"]
mod tests;
