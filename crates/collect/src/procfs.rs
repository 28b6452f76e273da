use std::path::{Path, PathBuf};

use crate::{parse_meminfo, parse_stat, CollectError, CpuSample, Meminfo};

/// The root that `/proc` is read under: `/` on a host, `/hostfs` in a container.
///
/// Every read of this crate goes through it, and each file is opened and read once per call
/// (tests serve samples through FIFOs and count the reads).
#[derive(Debug, Clone)]
pub struct ProcRoot {
    root: PathBuf,
}

impl ProcRoot {
    /// A root whose `proc/stat` exists. Only metadata is checked, so nothing is read here.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, CollectError> {
        let root = root.into();
        if std::fs::metadata(&root).is_err() {
            return Err(CollectError::RootMissing(root));
        }
        let stat = root.join("proc/stat");
        if std::fs::metadata(&stat).is_err() {
            return Err(CollectError::NoProcStat(stat));
        }
        Ok(ProcRoot { root })
    }

    /// The host's own `/proc`.
    pub fn host() -> Self {
        ProcRoot {
            root: PathBuf::from("/"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&self, rel: &str) -> Result<String, CollectError> {
        let path = self.path(rel);
        std::fs::read_to_string(&path).map_err(|source| CollectError::Read { path, source })
    }

    /// Read and parse `proc/stat`.
    pub fn cpu_sample(&self) -> Result<CpuSample, CollectError> {
        let text = self.read("proc/stat")?;
        parse_stat(&text).map_err(|detail| CollectError::Parse {
            path: self.path("proc/stat").display().to_string(),
            detail,
        })
    }

    /// Read and parse `proc/meminfo`.
    pub fn meminfo(&self) -> Result<Meminfo, CollectError> {
        Ok(parse_meminfo(&self.read("proc/meminfo")?))
    }
}
