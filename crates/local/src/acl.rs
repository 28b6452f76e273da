//! ACLs and client settings of a secured local cluster.
//!
//! rust-rdkafka 0.38 has no ACL admin calls and the `kafka_2.13` jars carry no
//! `AclCommand`, so [`LocalCluster::add_acls`] runs a small Java file of ours
//! (`java/MetricpipeAcl.java`, through Java's single-file source launcher) on the cluster's
//! own jars with the admin's client properties: one JVM start, about two seconds.

use std::path::PathBuf;
use std::process::Command;

use metricpipe_kafka::topics;

use crate::security::{self, SecurityMode, SecurityState};
use crate::{io_err, tls, LocalCluster, LocalError, Result};

const ACL_TOOL: &str = include_str!("../java/MetricpipeAcl.java");

/// A resource an ACL applies to (Kafka's `ResourcePattern`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Topic(String),
    /// Every topic whose name starts with the prefix.
    TopicPrefix(String),
    Group(String),
    Cluster,
    TransactionalId(String),
}

/// An operation an ACL allows (Kafka's `AclOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Describe,
    DescribeConfigs,
    IdempotentWrite,
}

/// One ALLOW entry for `User:<user>` from any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub user: String,
    pub resource: Resource,
    pub operation: Operation,
}

impl Acl {
    pub fn allow(user: impl Into<String>, resource: Resource, operation: Operation) -> Self {
        Acl {
            user: user.into(),
            resource,
            operation,
        }
    }

    /// The ACLs of the pipeline as docs/SECURITY.md lists them: `agent` writes
    /// `metric.all`; `streams` reads it in group `group` and writes the three outputs.
    pub fn pipeline(agent: &str, streams: &str, group: &str) -> Vec<Acl> {
        let topic = |n: &str| Resource::Topic(n.into());
        let mut acls = vec![
            Acl::allow(agent, topic(topics::INPUT), Operation::Write),
            Acl::allow(streams, topic(topics::INPUT), Operation::Read),
            Acl::allow(streams, Resource::Group(group.into()), Operation::Read),
        ];
        for out in [topics::CPU, topics::MEMORY, topics::ALERT] {
            acls.push(Acl::allow(streams, topic(out), Operation::Write));
        }
        acls
    }

    fn spec(&self) -> String {
        let (kind, pattern, name) = match &self.resource {
            Resource::Topic(n) => ("TOPIC", "LITERAL", n.as_str()),
            Resource::TopicPrefix(n) => ("TOPIC", "PREFIXED", n.as_str()),
            Resource::Group(n) => ("GROUP", "LITERAL", n.as_str()),
            Resource::Cluster => ("CLUSTER", "LITERAL", "kafka-cluster"),
            Resource::TransactionalId(n) => ("TRANSACTIONAL_ID", "LITERAL", n.as_str()),
        };
        let op = match self.operation {
            Operation::All => "ALL",
            Operation::Read => "READ",
            Operation::Write => "WRITE",
            Operation::Create => "CREATE",
            Operation::Describe => "DESCRIBE",
            Operation::DescribeConfigs => "DESCRIBE_CONFIGS",
            Operation::IdempotentWrite => "IDEMPOTENT_WRITE",
        };
        format!("User:{}|{kind}|{pattern}|{name}|{op}", self.user)
    }
}

impl LocalCluster {
    fn security_state(&self) -> Option<SecurityState> {
        self.lock().security.clone()
    }

    fn secured(&self) -> Result<SecurityState> {
        self.security_state().ok_or_else(|| {
            LocalError::Security(
                "this cluster is PLAINTEXT: start it with a security mode (`local up --security sasl_ssl`)"
                    .into(),
            )
        })
    }

    /// The security protocol of the client listener.
    pub fn security(&self) -> SecurityMode {
        self.security_state()
            .map(|s| s.mode)
            .unwrap_or(SecurityMode::Plaintext)
    }

    /// The admin's Java client properties file (secured clusters only): give it to
    /// `kafka-console-consumer --consumer.config` or `metricpipe --command-config`.
    pub fn client_properties_path(&self) -> Option<PathBuf> {
        self.security_state().map(|s| s.client_properties)
    }

    /// The CA certificate (PEM) that signed the brokers' certificates (TLS modes only).
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.security_state()
            .filter(|s| s.mode.uses_tls())
            .map(|s| s.tls_dir.join("ca.pem"))
    }

    /// librdkafka properties for the super user `admin`; empty on a PLAINTEXT cluster.
    pub fn client_config(&self) -> Vec<(String, String)> {
        match self.security_state() {
            // Only a missing client certificate could fail here, and `admin`'s was issued
            // when the client properties file was written.
            Some(s) => {
                security::librdkafka_properties(&s, security::ADMIN_USER).unwrap_or_default()
            }
            None => Vec::new(),
        }
    }

    /// librdkafka properties for `user` (its password, or on `ssl` a certificate issued now).
    pub fn user_client_config(&self, user: &str) -> Result<Vec<(String, String)>> {
        security::librdkafka_properties(&self.secured()?, user)
    }

    /// Java client properties for `user`, written to `<dir>/<user>.properties`.
    pub fn user_client_properties(&self, user: &str) -> Result<PathBuf> {
        let text = security::java_client_properties(&self.secured()?, user)?;
        let path = self.dir.join(format!("{user}.properties"));
        std::fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
        Ok(path)
    }

    /// A client certificate `CN=<user>` signed by the cluster's CA (TLS modes only).
    pub fn client_cert(&self, user: &str) -> Result<tls::ClientCert> {
        let s = self.secured()?;
        if !s.mode.uses_tls() {
            return Err(LocalError::Security(format!(
                "the cluster is {}: it has no CA",
                s.mode
            )));
        }
        tls::sign_leaf(&s.tls_dir, user, false)
    }

    /// Create ACLs, as the super user.
    pub fn add_acls(&self, acls: &[Acl]) -> Result<()> {
        self.run_acl_tool("add", acls)
    }

    /// Delete ACLs (each matching entry), as the super user.
    pub fn remove_acls(&self, acls: &[Acl]) -> Result<()> {
        self.run_acl_tool("remove", acls)
    }

    fn run_acl_tool(&self, verb: &str, acls: &[Acl]) -> Result<()> {
        let s = self.secured()?;
        let libs = self.lock().libs.clone();
        let source = self.dir.join("MetricpipeAcl.java");
        std::fs::write(&source, ACL_TOOL)
            .map_err(io_err(format!("writing {}", source.display())))?;
        let out = Command::new("java")
            .arg("-Xmx128m")
            // A short-lived tool: the C1 compiler alone starts it sooner.
            .arg("-XX:TieredStopAtLevel=1")
            .arg("-Dlog4j2.level=WARN")
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg(&source)
            .arg(&s.client_properties)
            .arg(self.bootstrap_servers())
            .arg(verb)
            .args(acls.iter().map(Acl::spec))
            .output()
            .map_err(io_err("running java for the ACL tool"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(LocalError::Security(format!(
            "{verb} ACLs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
