//! Metricbeat's `output.kafka` security keys, turned into librdkafka properties.
//!
//! The keys and their meaning are Metricbeat's (libbeat `outputs/kafka` and
//! elastic-agent-libs `transport/tlscommon`):
//!
//! | metricbeat.yml | librdkafka |
//! |---|---|
//! | `username` / `password` | `sasl.username` / `sasl.password`; SASL is on once `username` is set |
//! | `sasl.mechanism`: `PLAIN` (the default with a username), `SCRAM-SHA-256`, `SCRAM-SHA-512` | `sasl.mechanism` |
//! | `ssl.enabled` (on when an `ssl` section is present, unless `false`) | `security.protocol` `ssl` / `sasl_ssl` |
//! | `ssl.certificate_authorities`: files or inline PEM | `ssl.ca.location` (one file) or `ssl.ca.pem` |
//! | `ssl.certificate` / `ssl.key`: a file or inline PEM | `ssl.certificate.location`/`.pem`, `ssl.key.location`/`.pem` |
//! | `ssl.key_passphrase` / `ssl.key_passphrase_path` | `ssl.key.password` |
//! | `ssl.verification_mode`: `full` (default), `strict` (chain and host name), `certificate` (chain only), `none` | `enable.ssl.certificate.verification`, `ssl.endpoint.identification.algorithm` |
//! | `ssl.supported_protocols` | must allow TLSv1.2 and TLSv1.3: librdkafka cannot narrow the range |
//! | `ssl.cipher_suites` (Go names, TLS 1.2) | `ssl.cipher.suites` (OpenSSL names) |
//!
//! What cannot be honoured is an error naming the key: `kerberos.*`, `ssl.ca_trusted_fingerprint`
//! and `ssl.ca_sha256` (librdkafka offers no certificate pinning hook here), TLS 1.3 cipher
//! suites, a protocol list without TLSv1.2 or TLSv1.3. The agent never runs unencrypted when
//! TLS was asked for: a `librdkafka` `security.protocol` without TLS then is an error too.

use crate::beatconf::tree::Node;
use crate::beatconf::values::{invalid, string_list as texts, string_value as text};
use crate::error::ConfigError;

/// The Metricbeat keys of `output.kafka` this module decodes.
pub(crate) const KEYS: &[&str] = &["username", "password", "sasl", "ssl", "kerberos"];

fn is_pem(s: &str) -> bool {
    s.trim_start().starts_with("-----BEGIN")
}

fn read(key: &str, path: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| invalid(key, format!("reading {path}: {e}")))
}

/// Decode the security entries of `output.kafka` (`prefix` is `output.kafka`) into
/// librdkafka properties, checked against the operator's own `librdkafka` properties.
pub(crate) fn decode(
    prefix: &str,
    entries: &[(String, Node)],
    librdkafka: &[(String, String)],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut flat = Vec::new();
    for (k, v) in entries {
        v.flatten(k, &mut flat);
    }
    let full = |k: &str| format!("{prefix}.{k}");
    let get = |k: &str| flat.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let mut props: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| props.push((k.to_string(), v));

    if let Some((k, _)) = flat.iter().find(|(k, _)| k.starts_with("kerberos")) {
        let enabled = get("kerberos.enabled").map(|n| matches!(n, Node::Bool(true)));
        if enabled != Some(false) {
            return Err(invalid(&full(k), "Kerberos is not supported by metricpipe: use SCRAM-SHA-512 (sasl.mechanism) with username and password"));
        }
    }
    let sasl_props = decode_sasl(prefix, &flat)?;
    let sasl = !sasl_props.is_empty();
    for (k, v) in sasl_props {
        set(k, v);
    }

    let ssl_keys: Vec<&(String, Node)> =
        flat.iter().filter(|(k, _)| k.starts_with("ssl")).collect();
    let tls = match get("ssl.enabled") {
        Some(Node::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                &full("ssl.enabled"),
                format!("expected true or false, got {}", other.type_name()),
            ))
        }
        None => !ssl_keys.is_empty(),
    };
    if tls {
        for (k, v) in ssl_keys {
            decode_ssl(&full(k), k, v, &mut set)?;
        }
    }
    let protocol = match (sasl, tls) {
        (true, true) => "sasl_ssl",
        (true, false) => "sasl_plaintext",
        (false, true) => "ssl",
        (false, false) => return Ok(props),
    };
    props.insert(0, ("security.protocol".into(), protocol.into()));
    if tls {
        let own = librdkafka
            .iter()
            .rev()
            .find(|(k, _)| k == "security.protocol")
            .map(|(_, v)| v.to_ascii_lowercase());
        if let Some(p) = own.filter(|p| !p.ends_with("ssl")) {
            return Err(invalid(&full("librdkafka.security.protocol"), format!("{p} would send data unencrypted although ssl is enabled: remove it or set ssl.enabled: false")));
        }
    }
    Ok(props)
}

/// `username`, `password` and `sasl.mechanism` as librdkafka's SASL properties; none
/// without a username.
fn decode_sasl(
    prefix: &str,
    flat: &[(String, Node)],
) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let full = |k: &str| format!("{prefix}.{k}");
    let get = |k: &str| flat.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let username = get("username")
        .map(|n| text(&full("username"), n))
        .transpose()?;
    let password = get("password")
        .map(|n| text(&full("password"), n))
        .transpose()?;
    match (&username, &password) {
        (Some(u), Some(p)) if !u.is_empty() => {
            let mech = match get("sasl.mechanism") {
                Some(n) => text(&full("sasl.mechanism"), n)?.to_ascii_uppercase(),
                None => "PLAIN".to_string(),
            };
            if !matches!(mech.as_str(), "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") {
                return Err(invalid(
                    &full("sasl.mechanism"),
                    format!(
                        "unknown mechanism {mech:?}: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                    ),
                ));
            }
            Ok(vec![
                ("sasl.mechanism", mech),
                ("sasl.username", u.clone()),
                ("sasl.password", p.clone()),
            ])
        }
        (Some(u), None) if !u.is_empty() => Err(invalid(
            &full("password"),
            "username is set but password is not",
        )),
        (None, Some(_)) => Err(invalid(
            &full("username"),
            "password is set but username is not",
        )),
        _ => Ok(Vec::new()),
    }
}

fn decode_ssl(
    full: &str,
    key: &str,
    v: &Node,
    set: &mut impl FnMut(&str, String),
) -> Result<(), ConfigError> {
    match key {
        "ssl.enabled" => {}
        "ssl.certificate_authorities" => {
            let cas = texts(full, v)?;
            match cas.as_slice() {
                [] => {}
                [one] if !is_pem(one) => set("ssl.ca.location", one.clone()),
                many => {
                    // librdkafka takes one CA file or one PEM text: join them.
                    let mut pem = String::new();
                    for ca in many {
                        pem.push_str(&if is_pem(ca) { ca.clone() } else { read(full, ca)? });
                        pem.push('\n');
                    }
                    set("ssl.ca.pem", pem);
                }
            }
        }
        "ssl.certificate" | "ssl.key" => {
            let value = text(full, v)?;
            let what = if key == "ssl.key" { "ssl.key" } else { "ssl.certificate" };
            if is_pem(&value) {
                set(&format!("{what}.pem"), value);
            } else if !value.is_empty() {
                set(&format!("{what}.location"), value);
            }
        }
        "ssl.key_passphrase" => set("ssl.key.password", text(full, v)?),
        "ssl.key_passphrase_path" => {
            let path = text(full, v)?;
            set("ssl.key.password", read(full, &path)?.trim_end_matches(['\r', '\n']).to_string());
        }
        "ssl.verification_mode" => {
            let mode = text(full, v)?.to_ascii_lowercase();
            let (verify, host) = match mode.as_str() {
                "full" | "strict" => ("true", "https"),
                "certificate" => ("true", "none"),
                "none" => {
                    tracing::warn!(setting = full, "TLS certificates are not verified (verification_mode: none): anyone on the path can read and change the data");
                    ("false", "none")
                }
                other => return Err(invalid(full, format!("unknown mode {other:?}: use full, strict, certificate or none"))),
            };
            set("enable.ssl.certificate.verification", verify.into());
            set("ssl.endpoint.identification.algorithm", host.into());
        }
        "ssl.supported_protocols" => {
            let versions: Vec<String> = texts(full, v)?.iter().map(|s| s.to_ascii_uppercase()).collect();
            for needed in ["TLSV1.2", "TLSV1.3"] {
                if !versions.iter().any(|s| s == needed) {
                    return Err(invalid(full, "librdkafka negotiates TLSv1.2 or TLSv1.3 and cannot narrow that range: list both (or remove the setting)"));
                }
            }
        }
        "ssl.cipher_suites" => {
            let names = texts(full, v)?;
            let openssl = names
                .iter()
                .map(|n| openssl_cipher(n).ok_or_else(|| invalid(full, format!("cipher suite {n:?} cannot be set through librdkafka (TLS 1.3 suites are fixed, others must be TLS 1.2 suites such as ECDHE-RSA-AES-128-GCM-SHA256)"))))
                .collect::<Result<Vec<_>, _>>()?;
            if !openssl.is_empty() {
                set("ssl.cipher.suites", openssl.join(":"));
            }
        }
        "ssl.ca_trusted_fingerprint" | "ssl.ca_sha256" => {
            return Err(invalid(full, "certificate pinning cannot be honoured by metricpipe's Kafka client: put the CA in ssl.certificate_authorities instead"))
        }
        "ssl.renegotiation" | "ssl.curve_types" => {
            tracing::warn!(setting = full, "ignored: OpenSSL's defaults apply");
        }
        other => return Err(invalid(full, format!("`{other}` is not a TLS setting metricpipe knows; remove it"))),
    }
    Ok(())
}

/// A TLS 1.2 suite in Go/Beats spelling (`ECDHE-RSA-AES-128-GCM-SHA256`) in OpenSSL's
/// (`ECDHE-RSA-AES128-GCM-SHA256`); `None` for TLS 1.3 suites and unknown names.
fn openssl_cipher(name: &str) -> Option<String> {
    let n = name.to_ascii_uppercase().replace('_', "-");
    if n.starts_with("TLS-") {
        return None;
    }
    let n = n
        .replace("AES-128-", "AES128-")
        .replace("AES-256-", "AES256-")
        .replace("-WITH-", "-");
    let known = [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-CBC-SHA256",
        "ECDHE-RSA-AES128-CBC-SHA256",
    ];
    known
        .contains(&n.as_str())
        .then_some(n.replace("-CBC-", "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> Result<Vec<(String, String)>, ConfigError> {
        let node = Node::from_yaml(yaml, "t").unwrap();
        let Node::Map(entries) = node else { panic!() };
        decode("output.kafka", &entries, &[])
    }

    fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
        p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn scram_over_tls_with_a_ca_file() {
        let p = run("username: agent\npassword: s3cret\nsasl.mechanism: SCRAM-SHA-512\nssl.certificate_authorities: [/etc/ca.pem]\n").unwrap();
        assert_eq!(get(&p, "security.protocol"), Some("sasl_ssl"));
        assert_eq!(get(&p, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get(&p, "sasl.username"), Some("agent"));
        assert_eq!(get(&p, "ssl.ca.location"), Some("/etc/ca.pem"));
    }

    #[test]
    fn plain_is_the_default_mechanism_and_no_ssl_means_sasl_plaintext() {
        let p = run("username: a\npassword: b\n").unwrap();
        assert_eq!(get(&p, "sasl.mechanism"), Some("PLAIN"));
        assert_eq!(get(&p, "security.protocol"), Some("sasl_plaintext"));
        assert!(
            run("ssl.enabled: false\nssl.certificate_authorities: [x]\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn mutual_tls_inline_pem_and_verification_modes() {
        let p = run("ssl.certificate: /c.crt\nssl.key: \"-----BEGIN PRIVATE KEY-----\\nx\"\nssl.key_passphrase: k\nssl.verification_mode: certificate\n").unwrap();
        assert_eq!(get(&p, "security.protocol"), Some("ssl"));
        assert_eq!(get(&p, "ssl.certificate.location"), Some("/c.crt"));
        assert!(get(&p, "ssl.key.pem").unwrap().starts_with("-----BEGIN"));
        assert_eq!(get(&p, "ssl.key.password"), Some("k"));
        assert_eq!(
            get(&p, "ssl.endpoint.identification.algorithm"),
            Some("none")
        );
        assert_eq!(get(&p, "enable.ssl.certificate.verification"), Some("true"));
        let p = run("ssl.verification_mode: none\n").unwrap();
        assert_eq!(
            get(&p, "enable.ssl.certificate.verification"),
            Some("false")
        );
        let p = run("ssl.verification_mode: strict\n").unwrap();
        assert_eq!(
            get(&p, "ssl.endpoint.identification.algorithm"),
            Some("https")
        );
    }

    #[test]
    fn ciphers_and_protocols() {
        let p = run("ssl.cipher_suites: [ECDHE-RSA-AES-128-GCM-SHA256, ECDHE-ECDSA-CHACHA20-POLY1305]\nssl.supported_protocols: [TLSv1.2, TLSv1.3]\n").unwrap();
        assert_eq!(
            get(&p, "ssl.cipher.suites"),
            Some("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305")
        );
        let e = run("ssl.supported_protocols: [TLSv1.3]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("output.kafka.ssl.supported_protocols"), "{e}");
        let e = run("ssl.cipher_suites: [TLS-AES-128-GCM-SHA256]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssl.cipher_suites"), "{e}");
    }

    #[test]
    fn what_cannot_be_honoured_names_the_key() {
        for (yaml, key) in [
            (
                "kerberos.auth_type: password\n",
                "output.kafka.kerberos.auth_type",
            ),
            (
                "ssl.ca_trusted_fingerprint: AB12\n",
                "output.kafka.ssl.ca_trusted_fingerprint",
            ),
            (
                "username: a\npassword: b\nsasl.mechanism: GSSAPI\n",
                "output.kafka.sasl.mechanism",
            ),
            ("username: a\n", "output.kafka.password"),
        ] {
            let e = run(yaml).unwrap_err().to_string();
            assert!(e.contains(key), "{yaml}: {e}");
            assert!(!e.contains("b\n"), "{e}");
        }
        assert!(run("kerberos.enabled: false\n").unwrap().is_empty());
    }

    #[test]
    fn tls_asked_never_runs_unencrypted() {
        let node = Node::from_yaml("ssl.enabled: true\n", "t").unwrap();
        let Node::Map(entries) = node else { panic!() };
        let e = decode(
            "output.kafka",
            &entries,
            &[("security.protocol".into(), "PLAINTEXT".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unencrypted"), "{e}");
    }

    #[test]
    fn several_cas_are_joined_into_one_pem() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        std::fs::write(
            &a,
            "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let yaml = format!(
            "ssl.certificate_authorities:\n  - {}\n  - \"-----BEGIN CERTIFICATE-----\\nB\"\n",
            a.display()
        );
        let p = run(&yaml).unwrap();
        let pem = get(&p, "ssl.ca.pem").unwrap();
        assert!(pem.contains("\nA\n") && pem.contains("\nB"), "{pem}");
        let e = run("ssl.certificate_authorities: [/nonexistent/a.pem, /nonexistent/b.pem]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ssl.certificate_authorities") && e.contains("/nonexistent/a.pem"),
            "{e}"
        );
    }
}
