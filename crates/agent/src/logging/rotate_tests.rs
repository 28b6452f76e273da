//! Rotation by size, at startup and by interval, purging, permissions, long lines.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};

use std::path::Path;

use super::*;

fn cfg(dir: &Path) -> LogFiles {
    LogFiles {
        path: dir.join("logs"),
        name: "metricbeat".into(),
        rotate_every_bytes: 100,
        keep_files: 2,
        permissions: 0o600,
        interval: Duration::ZERO,
        rotate_on_startup: true,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn size_rotation_keeps_keepfiles_rotated_files_plus_the_active_one() {
    let tmp = tempfile::tempdir().unwrap();
    let c = cfg(tmp.path());
    let mut r = Rotator::open(&c).unwrap();
    let today = date(SystemTime::now());
    for i in 0..20 {
        writeln!(r, "line {i:02} ......................").unwrap();
    }
    r.flush().unwrap();
    let files = names(&c.path);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.starts_with(&format!("metricbeat-{today}"))));
    assert!(files.iter().all(|f| f.ends_with(".ndjson")));
    let mut total = String::new();
    for f in &files {
        let text = std::fs::read_to_string(c.path.join(f)).unwrap();
        assert!(text.len() <= 100, "{f}: {}", text.len());
        let mode = std::fs::metadata(c.path.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
        total.push_str(&text);
    }
    // The newest lines survive, the active file holds the last one.
    assert!(total.contains("line 19"), "{total}");
    assert!(!total.contains("line 00"), "{total}");
    let active = std::fs::read_to_string(r.active()).unwrap();
    assert!(active.ends_with("line 19 ......................\n"));
    let dir_mode = std::fs::metadata(&c.path).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn startup_rotates_an_existing_file_unless_told_not_to() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(tmp.path());
    c.rotate_every_bytes = 10_000;
    c.keep_files = 7;
    let today = date(SystemTime::now());
    writeln!(Rotator::open(&c).unwrap(), "first run").unwrap();
    writeln!(Rotator::open(&c).unwrap(), "second run").unwrap();
    assert_eq!(
        names(&c.path),
        [
            format!("metricbeat-{today}-1.ndjson"),
            format!("metricbeat-{today}.ndjson")
        ]
    );
    c.rotate_on_startup = false;
    let mut r = Rotator::open(&c).unwrap();
    writeln!(r, "third run").unwrap();
    assert_eq!(names(&c.path).len(), 2);
    let text = std::fs::read_to_string(r.active()).unwrap();
    assert_eq!(text, "second run\nthird run\n");
}

#[test]
fn a_line_longer_than_rotateeverybytes_is_refused_and_group_modes_open_the_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(tmp.path());
    c.permissions = 0o640;
    let mut r = Rotator::open(&c).unwrap();
    let e = r.write(&[b'x'; 101]).unwrap_err();
    assert!(e.to_string().contains("rotateeverybytes"), "{e}");
    let dir_mode = std::fs::metadata(&c.path).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o750);
    let mode = std::fs::metadata(r.active()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

static FAKE_NOW: AtomicU64 = AtomicU64::new(1_800_000_000);

fn fake_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(FAKE_NOW.load(Ordering::SeqCst))
}

#[test]
fn a_new_interval_period_rotates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(tmp.path());
    c.rotate_every_bytes = 10_000;
    c.interval = Duration::from_secs(60);
    let mut r = Rotator::open_with_clock(&c, fake_clock).unwrap();
    writeln!(r, "a").unwrap();
    FAKE_NOW.fetch_add(1, Ordering::SeqCst);
    writeln!(r, "b").unwrap();
    assert_eq!(names(&c.path).len(), 1);
    FAKE_NOW.fetch_add(60, Ordering::SeqCst);
    writeln!(r, "c").unwrap();
    assert_eq!(names(&c.path).len(), 2);
    assert_eq!(std::fs::read_to_string(r.active()).unwrap(), "c\n");
}

#[test]
fn calendar_periods() {
    let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let next_second = t + Duration::from_secs(1);
    assert_ne!(
        period(Duration::from_secs(1), t),
        period(Duration::from_secs(1), next_second)
    );
    assert_eq!(
        period(Duration::from_secs(86_400), t),
        period(Duration::from_secs(86_400), next_second)
    );
    assert_eq!(period(Duration::from_secs(7200), t).len(), 1);
}
