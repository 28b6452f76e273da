//! The Kafka jars, resolved from Maven Central with Maven and cached per user.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{io_err, LocalError, Result};

pub const KAFKA_VERSION: &str = "4.3.1";
const LOG4J_VERSION: &str = "2.25.4";

/// The directory of Kafka jars: `$METRICPIPE_KAFKA_LIBS` if set, otherwise
/// `$XDG_CACHE_HOME/metricpipe/kafka-<version>/libs` (or `~/.cache/...`), fetched with
/// `mvn dependency:copy-dependencies` on first use.
pub fn resolve_kafka_jars() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("METRICPIPE_KAFKA_LIBS") {
        return Ok(PathBuf::from(dir));
    }
    let home = cache_home().join(format!("kafka-{KAFKA_VERSION}"));
    let libs = home.join("libs");
    if libs.join(".complete").exists() {
        return Ok(libs);
    }
    std::fs::create_dir_all(&home).map_err(io_err(format!("creating {}", home.display())))?;
    fetch_with_maven(&home, &libs)?;
    Ok(libs)
}

type NoticeHook = Box<dyn Fn(&str) + Send + Sync>;
static NOTICE_HOOK: std::sync::OnceLock<NoticeHook> = std::sync::OnceLock::new();

/// Send the harness's one-line notices (the first jar fetch) to `hook` instead of stderr,
/// e.g. above a progress spinner. Only the first call takes effect.
pub fn set_notice_hook(hook: impl Fn(&str) + Send + Sync + 'static) {
    let _ = NOTICE_HOOK.set(Box::new(hook));
}

fn notice(line: &str) {
    match NOTICE_HOOK.get() {
        Some(hook) => hook(line),
        None => eprintln!("{line}"),
    }
}

/// Whether [`resolve_kafka_jars`] will answer without fetching.
pub fn kafka_jars_cached() -> bool {
    std::env::var_os("METRICPIPE_KAFKA_LIBS").is_some()
        || cache_home()
            .join(format!("kafka-{KAFKA_VERSION}"))
            .join("libs")
            .join(".complete")
            .exists()
}

fn cache_home() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("metricpipe");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("metricpipe")
}

fn pom() -> String {
    format!(
        r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.metricpipe</groupId>
  <artifactId>local-kafka</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <!-- The broker logs through slf4j; without a binding its logs are lost. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"#
    )
}

fn fetch_with_maven(home: &Path, libs: &Path) -> Result<()> {
    let pom_path = home.join("pom.xml");
    std::fs::write(&pom_path, pom()).map_err(io_err(format!("writing {}", pom_path.display())))?;
    notice(&format!(
        "fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {} (once, about 45 MB)",
        libs.display()
    ));
    let out = Command::new("mvn")
        .arg("-q")
        .arg("-B")
        .arg("-f")
        .arg(&pom_path)
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", libs.display()))
        .arg("-DincludeScope=runtime")
        .output()
        .map_err(|e| LocalError::Jars {
            version: KAFKA_VERSION.into(),
            detail: format!("running mvn: {e}"),
        })?;
    if !out.status.success() {
        let mut detail = String::from_utf8_lossy(&out.stdout).to_string();
        detail.push_str(&String::from_utf8_lossy(&out.stderr));
        let tail: Vec<&str> = detail.lines().rev().take(15).collect();
        return Err(LocalError::Jars {
            version: KAFKA_VERSION.into(),
            detail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    std::fs::write(libs.join(".complete"), KAFKA_VERSION)
        .map_err(io_err(format!("writing {}", libs.display())))
}
