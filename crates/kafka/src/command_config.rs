//! `--command-config FILE`: a Java client properties file, as Kafka's tools take it, turned
//! into librdkafka properties.
//!
//! | Java client key | librdkafka property |
//! |---|---|
//! | `security.protocol` | `security.protocol` |
//! | `sasl.mechanism` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) | `sasl.mechanism` |
//! | `sasl.jaas.config` (`PlainLoginModule` / `ScramLoginModule`, `username`, `password`) | `sasl.username`, `sasl.password` |
//! | `ssl.truststore.type=PEM` + `ssl.truststore.location` | `ssl.ca.location` |
//! | `ssl.truststore.certificates` (inline PEM) | `ssl.ca.pem` |
//! | `ssl.keystore.type=PEM` + `ssl.keystore.location` (key and chain in one file) | `ssl.certificate.location` and `ssl.key.location` (the same file) |
//! | `ssl.keystore.type=PKCS12` + `ssl.keystore.location` / `.password` | `ssl.keystore.location` / `.password` |
//! | `ssl.keystore.key` / `ssl.keystore.certificate.chain` (inline PEM) | `ssl.key.pem` / `ssl.certificate.pem` |
//! | `ssl.key.password` | `ssl.key.password` |
//! | `ssl.endpoint.identification.algorithm` (`https` / empty) | same (`https` / `none`) |
//!
//! Values may refer to Kafka's config providers (`${file:/path:key}`, `${dir:...}`,
//! `${env:VAR}`, declared with `config.providers`): see [`crate::config_providers`].
//!
//! JKS stores, Kerberos, OAuth callback classes and Java cipher-suite names have no
//! librdkafka equivalent: they are errors that name the key and the alternative. Settings
//! that only tune the JVM (`ssl.provider`, `*.deserializer`, ...) are dropped with a
//! warning. Any other key is passed through unchanged: librdkafka rejects the ones it does
//! not know, naming them.

use std::path::{Path, PathBuf};

use crate::java_properties;

/// Properties whose values are secrets: never printed.
pub const SECRET_KEYS: &[&str] = &[
    "sasl.password",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.key.pem",
    "sasl.oauthbearer.client.secret",
];

/// What a `--command-config` file gave.
#[derive(Clone, Default)]
pub struct CommandConfig {
    /// librdkafka properties, in file order.
    pub properties: Vec<(String, String)>,
    /// One line per Java key that was dropped.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for CommandConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let v = if SECRET_KEYS.contains(&k.as_str()) {
                    "[redacted]"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("CommandConfig")
            .field("properties", &shown)
            .field("warnings", &self.warnings)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandConfigError {
    #[error("reading the client properties file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        #[source]
        source: java_properties::PropertiesError,
    },
    #[error("{path}: `{key}`: {detail}")]
    Key {
        path: PathBuf,
        key: String,
        detail: String,
    },
}

/// Read and translate `path`.
pub fn load(path: &Path) -> Result<CommandConfig, CommandConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| CommandConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let props = java_properties::parse(&text).map_err(|source| CommandConfigError::Syntax {
        path: path.to_path_buf(),
        source,
    })?;
    translate(&props).map_err(|(key, detail)| CommandConfigError::Key {
        path: path.to_path_buf(),
        key,
        detail,
    })
}

/// Java keys that only tune the JVM client and mean nothing to librdkafka.
const JVM_ONLY: &[&str] = &[
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.engine.factory.class",
    "key.deserializer",
    "value.deserializer",
    "key.serializer",
    "value.serializer",
    "interceptor.classes",
];

type KeyError = (String, String);

fn key_err(key: &str, detail: impl Into<String>) -> KeyError {
    (key.to_string(), detail.into())
}

/// Translate parsed Java client properties to librdkafka properties.
pub fn translate(props: &[(String, String)]) -> Result<CommandConfig, KeyError> {
    // `${file:PATH:KEY}` and the other config providers' references, as the Java client
    // resolves them before it reads any setting.
    let resolved = crate::config_providers::resolve(props)?;
    let props = resolved.as_slice();
    let get = |k: &str| {
        props
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
    };
    let mut out = CommandConfig::default();
    let mut push = |k: &str, v: &str| out.properties.push((k.to_string(), v.to_string()));
    let truststore_type = get("ssl.truststore.type")
        .unwrap_or("JKS")
        .to_ascii_uppercase();
    let keystore_type = get("ssl.keystore.type")
        .unwrap_or("JKS")
        .to_ascii_uppercase();
    let mut warnings = Vec::new();
    for (key, value) in props {
        let value = value.trim();
        match key.as_str() {
            "security.protocol" => push("security.protocol", value),
            "sasl.mechanism" => match value.to_ascii_uppercase().as_str() {
                m @ ("PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") => push("sasl.mechanism", m),
                "GSSAPI" => return Err(key_err(key, "Kerberos (GSSAPI) is not supported by metricpipe's Kafka client: use SCRAM-SHA-512 or PLAIN")),
                other => return Err(key_err(key, format!("unsupported SASL mechanism {other:?}: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))),
            },
            "sasl.jaas.config" => {
                let (user, password) = jaas_credentials(value).map_err(|d| key_err(key, d))?;
                push("sasl.username", &user);
                push("sasl.password", &password);
            }
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !matches!(value.to_ascii_uppercase().as_str(), "PEM" | "PKCS12") {
                    return Err(key_err(key, format!("{value} stores cannot be read by librdkafka: convert the store to PEM (`keytool -exportcert -rfc` for certificates, `openssl pkcs12 -nodes` for a key) and set {key}=PEM")));
                }
            }
            "ssl.truststore.location" => {
                if truststore_type != "PEM" {
                    return Err(key_err(key, format!("a {truststore_type} trust store cannot be read by librdkafka: export its CA certificates to a PEM file and set ssl.truststore.type=PEM")));
                }
                push("ssl.ca.location", value);
            }
            "ssl.truststore.certificates" => push("ssl.ca.pem", value),
            "ssl.truststore.password" => {}
            "ssl.keystore.location" => match keystore_type.as_str() {
                "PEM" => {
                    push("ssl.certificate.location", value);
                    push("ssl.key.location", value);
                }
                "PKCS12" => push("ssl.keystore.location", value),
                other => return Err(key_err(key, format!("a {other} key store cannot be read by librdkafka: convert it to PEM (key and certificate chain in one file) and set ssl.keystore.type=PEM"))),
            },
            "ssl.keystore.password" => match keystore_type.as_str() {
                "PKCS12" => push("ssl.keystore.password", value),
                // A PEM key store has no store password; Kafka uses ssl.key.password.
                _ if get("ssl.key.password").is_none() => push("ssl.key.password", value),
                _ => {}
            },
            "ssl.keystore.key" => push("ssl.key.pem", value),
            "ssl.keystore.certificate.chain" => push("ssl.certificate.pem", value),
            "ssl.key.password" => push("ssl.key.password", value),
            "ssl.endpoint.identification.algorithm" => {
                match value.to_ascii_lowercase().as_str() {
                    "" => push("ssl.endpoint.identification.algorithm", "none"),
                    "https" => push("ssl.endpoint.identification.algorithm", "https"),
                    other => return Err(key_err(key, format!("unknown algorithm {other:?}: use https, or an empty value to skip the host name check"))),
                }
            }
            "ssl.cipher.suites" => return Err(key_err(key, "Java cipher-suite names differ from OpenSSL's: remove it, or pass OpenSSL names with -X ssl.cipher.suites=...")),
            "ssl.enabled.protocols" | "ssl.protocol" => warnings.push(format!("`{key}` is ignored: librdkafka negotiates TLS 1.2 or 1.3 through OpenSSL")),
            "bootstrap.servers" => warnings.push("`bootstrap.servers` in the properties file is ignored: pass --bootstrap-server".to_string()),
            k if k.starts_with("sasl.kerberos.") => return Err(key_err(key, "Kerberos is not supported by metricpipe's Kafka client: use SCRAM-SHA-512 or PLAIN")),
            k if k.starts_with("sasl.login.") || k.ends_with(".callback.handler.class") => {
                return Err(key_err(key, "Java login and callback classes cannot run in librdkafka: use SCRAM-SHA-512 or PLAIN credentials in sasl.jaas.config"))
            }
            "config.providers" => {}
            k if JVM_ONLY.contains(&k) || k.starts_with("config.providers.") => warnings.push(format!("`{key}` only applies to the Java client and is ignored")),
            _ => push(key, value),
        }
    }
    out.warnings = warnings;
    Ok(out)
}

/// The username and password of a `PlainLoginModule` or `ScramLoginModule` JAAS line:
/// `<class> required username="u" password="p";` (values quoted or bare).
fn jaas_credentials(jaas: &str) -> Result<(String, String), String> {
    let mut rest = jaas.trim();
    let class_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let class = &rest[..class_end];
    let short = class.rsplit('.').next().unwrap_or(class);
    if !matches!(short, "PlainLoginModule" | "ScramLoginModule") {
        return Err(format!("login module {class} is not supported: use org.apache.kafka.common.security.scram.ScramLoginModule or org.apache.kafka.common.security.plain.PlainLoginModule"));
    }
    rest = rest[class_end..].trim_start();
    let flag_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let flag = rest[..flag_end].trim_end_matches(';');
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!(
            "expected a control flag (required) after {class}, got {flag:?}"
        ));
    }
    rest = &rest[flag_end..];
    let mut user = None;
    let mut password = None;
    for (k, v) in jaas_options(rest)? {
        match k.as_str() {
            "username" => user = Some(v),
            "password" => password = Some(v),
            _ => {}
        }
    }
    match (user, password) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err("the login module needs username=\"...\" and password=\"...\"".into()),
    }
}

/// `k="v" k2=v2 ;` → pairs; quoted values may hold spaces, `;` and `\"`.
fn jaas_options(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some(';') => return Ok(out),
            _ => {}
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if chars.next() != Some('=') {
            return Err(format!("option {key:?} has no `=value`"));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of {key:?} has no closing quote")),
                }
            }
        } else {
            value =
                std::iter::from_fn(|| chars.next_if(|c| *c != ';' && !c.is_whitespace())).collect();
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(text: &str) -> Result<CommandConfig, KeyError> {
        translate(&java_properties::parse(text).unwrap())
    }

    fn get<'a>(c: &'a CommandConfig, k: &str) -> Option<&'a str> {
        c.properties
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_console_consumer_sasl_ssl_file() {
        let c = tr("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  username=\"alice\" password=\"p w;x\";\n\
             ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/ca.pem\n\
             ssl.endpoint.identification.algorithm=\n")
        .unwrap();
        assert_eq!(get(&c, "security.protocol"), Some("SASL_SSL"));
        assert_eq!(get(&c, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get(&c, "sasl.username"), Some("alice"));
        assert_eq!(get(&c, "sasl.password"), Some("p w;x"));
        assert_eq!(get(&c, "ssl.ca.location"), Some("/etc/kafka/ca.pem"));
        assert_eq!(
            get(&c, "ssl.endpoint.identification.algorithm"),
            Some("none")
        );
        assert!(c.warnings.is_empty());
        assert!(!format!("{c:?}").contains("p w"), "{c:?}");
    }

    #[test]
    fn pem_and_pkcs12_key_stores() {
        let c = tr("security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location=/k.pem\nssl.key.password=s\n").unwrap();
        assert_eq!(get(&c, "ssl.certificate.location"), Some("/k.pem"));
        assert_eq!(get(&c, "ssl.key.location"), Some("/k.pem"));
        assert_eq!(get(&c, "ssl.key.password"), Some("s"));
        let c =
            tr("ssl.keystore.type=PKCS12\nssl.keystore.location=/k.p12\nssl.keystore.password=s\n")
                .unwrap();
        assert_eq!(get(&c, "ssl.keystore.location"), Some("/k.p12"));
        assert_eq!(get(&c, "ssl.keystore.password"), Some("s"));
        let c = tr("ssl.keystore.key=-----BEGIN PRIVATE KEY-----\\nx\nssl.keystore.certificate.chain=C\nssl.truststore.certificates=CA\n").unwrap();
        assert_eq!(
            get(&c, "ssl.key.pem"),
            Some("-----BEGIN PRIVATE KEY-----\nx")
        );
        assert_eq!(get(&c, "ssl.certificate.pem"), Some("C"));
        assert_eq!(get(&c, "ssl.ca.pem"), Some("CA"));
    }

    #[test]
    fn a_password_from_a_file_config_provider() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.properties");
        std::fs::write(&secrets, "streams.password=s3cr3t\n").unwrap();
        let c = tr(&format!(
            "config.providers=file\nconfig.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"streams\" password=\"${{file:{}:streams.password}}\";\n",
            secrets.display()
        ))
        .unwrap();
        assert_eq!(get(&c, "sasl.password"), Some("s3cr3t"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn jks_is_an_error_naming_the_key_and_pem() {
        let (key, detail) =
            tr("ssl.truststore.location=/t.jks\nssl.truststore.password=x\n").unwrap_err();
        assert_eq!(key, "ssl.truststore.location");
        assert!(detail.contains("ssl.truststore.type=PEM"), "{detail}");
        let (key, detail) = tr("ssl.keystore.type=JKS\n").unwrap_err();
        assert_eq!(key, "ssl.keystore.type");
        assert!(detail.contains("PEM"), "{detail}");
    }

    #[test]
    fn plain_login_and_bare_values() {
        let c = tr("sasl.mechanism=plain\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=pw;\n").unwrap();
        assert_eq!(get(&c, "sasl.mechanism"), Some("PLAIN"));
        assert_eq!(get(&c, "sasl.username"), Some("bob"));
        assert_eq!(get(&c, "sasl.password"), Some("pw"));
    }

    #[test]
    fn what_cannot_be_honoured_is_an_error() {
        for (text, key) in [
            ("sasl.mechanism=GSSAPI", "sasl.mechanism"),
            ("sasl.mechanism=OAUTHBEARER", "sasl.mechanism"),
            ("sasl.kerberos.service.name=kafka", "sasl.kerberos.service.name"),
            ("sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required;", "sasl.jaas.config"),
            ("sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\";", "sasl.jaas.config"),
            ("sasl.login.callback.handler.class=x.Y", "sasl.login.callback.handler.class"),
            ("ssl.cipher.suites=TLS_AES_128_GCM_SHA256", "ssl.cipher.suites"),
            ("ssl.endpoint.identification.algorithm=ldap", "ssl.endpoint.identification.algorithm"),
        ] {
            assert_eq!(tr(text).unwrap_err().0, key, "{text}");
        }
    }

    #[test]
    fn jvm_only_keys_warn_and_others_pass_through() {
        let c = tr("key.deserializer=org.apache.kafka.common.serialization.StringDeserializer\nclient.id=ops\nbootstrap.servers=x:9092\n").unwrap();
        assert_eq!(
            c.properties,
            vec![("client.id".to_string(), "ops".to_string())]
        );
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }
}
