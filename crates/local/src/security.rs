//! Secured local clusters: TLS, SASL (SCRAM-SHA-256/512 and PLAIN) and ACLs.
//!
//! Each node gets three listeners:
//! - `CLIENT` on the node's port, with the cluster's [`SecurityMode`]: what clients use;
//! - `INTERNAL` (PLAINTEXT) for replication and `CONTROLLER` (PLAINTEXT) for KRaft. Both are
//!   on 127.0.0.1 only and their principal (`User:ANONYMOUS`) is a super user, so the
//!   brokers never need credentials of their own. That is fine for a throwaway test cluster
//!   and wrong for production: only `CLIENT` is what the tests exercise.
//!
//! Authorization is `StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`:
//! a user with no ACLs can do nothing. `admin` is a super user; its credentials are in the
//! client properties file the harness writes (Java syntax, as `kafka-console-consumer
//! --consumer.config` takes it). SCRAM credentials are written at format time
//! (`kafka-storage format --add-scram`), PLAIN ones in the listener's JAAS config.
//! Mutual TLS maps a certificate's `CN=<name>` to the principal `User:<name>`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{io_err, tls, LocalError, NodeInfo, Result};

/// The security protocol of the cluster's client listener (Kafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    #[default]
    Plaintext,
    /// TLS with client certificates required (mutual TLS).
    Ssl,
    SaslPlaintext,
    /// SASL (SCRAM or PLAIN) over TLS; no client certificate.
    SaslSsl,
}

impl SecurityMode {
    /// Kafka's name for the protocol: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`.
    pub fn protocol(self) -> &'static str {
        match self {
            SecurityMode::Plaintext => "PLAINTEXT",
            SecurityMode::Ssl => "SSL",
            SecurityMode::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityMode::SaslSsl => "SASL_SSL",
        }
    }
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityMode::Ssl | SecurityMode::SaslSsl)
    }
    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityMode::SaslPlaintext | SecurityMode::SaslSsl)
    }
}

impl fmt::Display for SecurityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.protocol().to_ascii_lowercase())
    }
}

impl FromStr for SecurityMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "plaintext" => Ok(SecurityMode::Plaintext),
            "ssl" => Ok(SecurityMode::Ssl),
            "sasl_plaintext" => Ok(SecurityMode::SaslPlaintext),
            "sasl_ssl" => Ok(SecurityMode::SaslSsl),
            other => Err(format!(
                "unknown security mode {other:?}: use plaintext, ssl, sasl_plaintext or sasl_ssl"
            )),
        }
    }
}

/// A SASL user: it may log in with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl User {
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        User {
            name: name.into(),
            password: password.into(),
        }
    }
}

/// The super user whose credentials the client properties file holds.
pub const ADMIN_USER: &str = "admin";

/// What `cluster.json` keeps of a secured cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecurityState {
    pub mode: SecurityMode,
    pub admin_password: String,
    pub users: Vec<User>,
    pub tls_dir: PathBuf,
    pub client_properties: PathBuf,
}

impl SecurityState {
    fn all_users(&self) -> Vec<User> {
        let mut users = vec![User::new(ADMIN_USER, &self.admin_password)];
        users.extend(self.users.iter().cloned());
        users
    }
}

/// Make the CA and certificates, choose the admin password, write the client properties.
pub(crate) fn prepare(
    mode: SecurityMode,
    users: &[User],
    dir: &Path,
) -> Result<Option<SecurityState>> {
    if mode == SecurityMode::Plaintext {
        return Ok(None);
    }
    if let Some(bad) = users
        .iter()
        .find(|u| !valid_name(&u.name) || u.name == ADMIN_USER)
    {
        return Err(LocalError::Security(format!(
            "user name {:?} is reserved or not made of letters, digits, '.', '_' and '-'",
            bad.name
        )));
    }
    let state = SecurityState {
        mode,
        admin_password: uuid::Uuid::new_v4().simple().to_string(),
        users: users.to_vec(),
        tls_dir: dir.join("tls"),
        client_properties: dir.join("client.properties"),
    };
    if mode.uses_tls() {
        tls::make_authority(&state.tls_dir)?;
    }
    let text = java_client_properties(&state, ADMIN_USER)?;
    std::fs::write(&state.client_properties, text).map_err(io_err(format!(
        "writing {}",
        state.client_properties.display()
    )))?;
    Ok(Some(state))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The Java client properties of `user`: what `kafka-console-consumer --consumer.config`
/// and `metricpipe --command-config` take. Mutual TLS issues the user a certificate.
pub(crate) fn java_client_properties(state: &SecurityState, user: &str) -> Result<String> {
    let mut lines = vec![format!("security.protocol={}", state.mode.protocol())];
    if state.mode.uses_sasl() {
        let password = password_of(state, user)?;
        lines.push("sasl.mechanism=SCRAM-SHA-512".into());
        lines.push(format!(
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{password}\";"
        ));
    }
    if state.mode.uses_tls() {
        lines.push("ssl.truststore.type=PEM".into());
        lines.push(format!(
            "ssl.truststore.location={}",
            state.tls_dir.join("ca.pem").display()
        ));
    }
    if state.mode == SecurityMode::Ssl {
        let cert = tls::sign_leaf(&state.tls_dir, user, false)?;
        lines.push("ssl.keystore.type=PEM".into());
        lines.push(format!("ssl.keystore.location={}", cert.keystore.display()));
    }
    lines.push(String::new());
    Ok(lines.join("\n"))
}

/// The librdkafka properties of `user` on this cluster.
pub(crate) fn librdkafka_properties(
    state: &SecurityState,
    user: &str,
) -> Result<Vec<(String, String)>> {
    let mut props = vec![(
        "security.protocol".to_string(),
        state.mode.protocol().to_ascii_lowercase(),
    )];
    if state.mode.uses_sasl() {
        props.push(("sasl.mechanism".into(), "SCRAM-SHA-512".into()));
        props.push(("sasl.username".into(), user.into()));
        props.push(("sasl.password".into(), password_of(state, user)?));
    }
    if state.mode.uses_tls() {
        props.push((
            "ssl.ca.location".into(),
            state.tls_dir.join("ca.pem").display().to_string(),
        ));
    }
    if state.mode == SecurityMode::Ssl {
        let cert = tls::sign_leaf(&state.tls_dir, user, false)?;
        props.push((
            "ssl.certificate.location".into(),
            cert.certificate.display().to_string(),
        ));
        props.push(("ssl.key.location".into(), cert.key.display().to_string()));
    }
    Ok(props)
}

fn password_of(state: &SecurityState, user: &str) -> Result<String> {
    state
        .all_users()
        .into_iter()
        .find(|u| u.name == user)
        .map(|u| u.password)
        .ok_or_else(|| {
            LocalError::Security(format!(
                "no user {user:?} on this cluster: add it to ClusterOptions::users"
            ))
        })
}

/// `kafka-storage format` arguments that create every user's SCRAM credentials.
pub(crate) fn format_args(state: Option<&SecurityState>) -> Vec<String> {
    let Some(state) = state.filter(|s| s.mode.uses_sasl()) else {
        return Vec::new();
    };
    let mut args = Vec::new();
    for u in state.all_users() {
        for mech in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            args.push("--add-scram".into());
            args.push(format!("{mech}=[name={},password={}]", u.name, u.password));
        }
    }
    args
}

/// The `server.properties` lines of a secured node; `internal_port` is its replication port.
pub(crate) fn node_properties(
    state: &SecurityState,
    node: &NodeInfo,
    internal_port: u16,
) -> Vec<(String, String)> {
    let mode = state.mode;
    let mut p: Vec<(String, String)> = vec![
        (
            "listeners".into(),
            format!(
                "CLIENT://127.0.0.1:{},INTERNAL://127.0.0.1:{internal_port},CONTROLLER://127.0.0.1:{}",
                node.port, node.controller_port
            ),
        ),
        (
            "advertised.listeners".into(),
            format!(
                "CLIENT://127.0.0.1:{},INTERNAL://127.0.0.1:{internal_port}",
                node.port
            ),
        ),
        ("inter.broker.listener.name".into(), "INTERNAL".into()),
        (
            "listener.security.protocol.map".into(),
            format!(
                "CLIENT:{},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
                mode.protocol()
            ),
        ),
        (
            "authorizer.class.name".into(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".into(),
        ),
        ("allow.everyone.if.no.acl.found".into(), "false".into()),
        (
            "super.users".into(),
            format!("User:{ADMIN_USER};User:ANONYMOUS"),
        ),
    ];
    if mode.uses_tls() {
        let tls = &state.tls_dir;
        p.push(("ssl.keystore.type".into(), "PEM".into()));
        p.push((
            "ssl.keystore.location".into(),
            tls.join("broker.pem").display().to_string(),
        ));
        p.push(("ssl.truststore.type".into(), "PEM".into()));
        p.push((
            "ssl.truststore.location".into(),
            tls.join("ca.pem").display().to_string(),
        ));
        let auth = if mode == SecurityMode::Ssl {
            "required"
        } else {
            "none"
        };
        p.push(("listener.name.client.ssl.client.auth".into(), auth.into()));
        // `CN=alice` is the principal `User:alice`, as a SASL login would be.
        p.push((
            "ssl.principal.mapping.rules".into(),
            "RULE:^CN=([^,]+)$/$1/,DEFAULT".into(),
        ));
    }
    if mode.uses_sasl() {
        p.push((
            "listener.name.client.sasl.enabled.mechanisms".into(),
            "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN".into(),
        ));
        for mech in ["scram-sha-256", "scram-sha-512"] {
            p.push((
                format!("listener.name.client.{mech}.sasl.jaas.config"),
                "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
            ));
        }
        let plain_users: String = state
            .all_users()
            .iter()
            .map(|u| format!(" user_{}=\"{}\"", u.name, u.password))
            .collect();
        p.push((
            "listener.name.client.plain.sasl.jaas.config".into(),
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
            ),
        ));
    }
    p
}

/// Replication ports for a secured cluster: `base+200+i`, or free ports.
pub(crate) fn internal_ports(nodes: usize, base: Option<u16>) -> Result<Vec<u16>> {
    if let Some(base) = base {
        return Ok((0..nodes as u16).map(|i| base + 200 + i).collect());
    }
    let held: Vec<std::net::TcpListener> = (0..nodes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()
        .map_err(io_err("finding a free port"))?;
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()
        .map_err(io_err("finding a free port"))
}
