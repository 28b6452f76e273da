//! Kafka's config providers (KIP-297, KIP-421) in a client properties file: values such as
//! `${file:/etc/kafka/secrets.properties:password}` are read from elsewhere, so the file an
//! operator shares holds no secret.
//!
//! As in the Java client (`AbstractConfig` with `ConfigTransformer`), a provider is declared
//! in the same file:
//!
//! ```properties
//! config.providers=file,env
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="streams" password="${file:/etc/kafka/secrets.properties:streams.password}";
//! ```
//!
//! | class | reference | value |
//! |---|---|---|
//! | `FileConfigProvider` | `${NAME:PATH:KEY}` | `KEY` of the Java properties file `PATH` |
//! | `DirectoryConfigProvider` | `${NAME:DIR:FILE}` | the content of `DIR/FILE` |
//! | `EnvVarConfigProvider` | `${NAME:VAR}` | the environment variable `VAR` |
//!
//! Only `${NAME:...}` is a reference; other text with `${` is kept as written. Where Java
//! leaves a reference it cannot resolve in place (a literal `${...}` password
//! then fails at login), this is an error naming the key and the reference; a provider class
//! we do not implement is an error naming `config.providers.NAME.class`. Resolved values
//! never appear in errors.

use std::collections::HashMap;
use std::path::Path;

const FILE: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIRECTORY: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
const ENV: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    File,
    Directory,
    Env,
}

/// `(key, what is wrong)`, as the translation's errors.
type KeyError = (String, String);

/// Replaces every `${NAME:...}` reference in the values of `props` by what its provider
/// gives, and drops the `config.providers*` keys (they are honoured here).
pub fn resolve(props: &[(String, String)]) -> Result<Vec<(String, String)>, KeyError> {
    let providers = declared(props)?;
    props
        .iter()
        .filter(|(k, _)| k != "config.providers" && !k.starts_with("config.providers."))
        .map(|(k, v)| Ok((k.clone(), expand(k, v, &providers)?)))
        .collect()
}

fn declared(props: &[(String, String)]) -> Result<HashMap<String, Provider>, KeyError> {
    let get = |k: &str| {
        props
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
    };
    let mut out = HashMap::new();
    let Some(names) = get("config.providers") else {
        return Ok(out);
    };
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let key = format!("config.providers.{name}.class");
        let provider = match get(&key) {
            Some(FILE) => Provider::File,
            Some(DIRECTORY) => Provider::Directory,
            Some(ENV) => Provider::Env,
            Some(other) => {
                return Err((
                    key,
                    format!("the config provider class {other} is not supported; use FileConfigProvider, DirectoryConfigProvider or EnvVarConfigProvider"),
                ))
            }
            None => {
                return Err((
                    key,
                    format!("config.providers lists `{name}` but its class is not set"),
                ))
            }
        };
        out.insert(name.to_string(), provider);
    }
    Ok(out)
}

/// `value` with each `${...}` reference replaced.
fn expand(
    key: &str,
    value: &str,
    providers: &HashMap<String, Provider>,
) -> Result<String, KeyError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        // Only `${NAME:...}` is a reference (ConfigTransformer's pattern); anything else,
        // such as a `${` in a password, is kept as written.
        let Some(reference) = after
            .find('}')
            .map(|end| &after[..end])
            .filter(|r| r.contains(':'))
        else {
            out.push_str("${");
            rest = after;
            continue;
        };
        out.push_str(&lookup(key, reference, providers)?);
        rest = &after[reference.len() + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(
    key: &str,
    reference: &str,
    providers: &HashMap<String, Provider>,
) -> Result<String, KeyError> {
    let err = |detail: String| Err((key.to_string(), format!("`${{{reference}}}`: {detail}")));
    let Some((name, rest)) = reference.split_once(':') else {
        return err("write a reference as ${PROVIDER:PATH:KEY}".into());
    };
    let Some(provider) = providers.get(name) else {
        return err(format!(
            "no config provider `{name}`: declare it, e.g. config.providers={name} and config.providers.{name}.class={FILE}"
        ));
    };
    match provider {
        Provider::Env => std::env::var(rest)
            .or_else(|_| err(format!("the environment variable {rest} is not set"))),
        Provider::File | Provider::Directory => {
            let Some((path, item)) = rest.rsplit_once(':') else {
                return err("write ${PROVIDER:PATH:KEY}".into());
            };
            if *provider == Provider::File {
                from_properties_file(Path::new(path), item).or_else(err)
            } else {
                let file = Path::new(path).join(item);
                std::fs::read_to_string(&file)
                    .or_else(|e| err(format!("reading {}: {e}", file.display())))
            }
        }
    }
}

fn from_properties_file(path: &Path, item: &str) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let props =
        crate::java_properties::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    props
        .into_iter()
        .find(|(k, _)| k == item)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("{} has no key `{item}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn file_directory_and_env_references_are_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.properties");
        std::fs::write(&secrets, "streams.password=s3cr3t\nother=x\n").unwrap();
        std::fs::write(dir.path().join("user"), "streams").unwrap();
        std::env::set_var("METRICPIPE_TEST_PROVIDER_MECH", "SCRAM-SHA-512");
        let got = resolve(&props(&[
            ("config.providers", "file, dir,env"),
            ("config.providers.file.class", FILE),
            ("config.providers.dir.class", DIRECTORY),
            ("config.providers.env.class", ENV),
            ("sasl.mechanism", "${env:METRICPIPE_TEST_PROVIDER_MECH}"),
            (
                "sasl.jaas.config",
                &format!(
                    "x required username=\"${{dir:{}:user}}\" password=\"${{file:{}:streams.password}}\";",
                    dir.path().display(),
                    secrets.display()
                ),
            ),
        ]))
        .unwrap();
        assert_eq!(
            got,
            props(&[
                ("sasl.mechanism", "SCRAM-SHA-512"),
                (
                    "sasl.jaas.config",
                    "x required username=\"streams\" password=\"s3cr3t\";"
                ),
            ])
        );
    }

    #[test]
    fn what_cannot_be_resolved_names_the_key_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("s.properties");
        std::fs::write(&secrets, "password=s3cr3t\n").unwrap();
        let file = [
            ("config.providers", "file"),
            ("config.providers.file.class", FILE),
        ];
        let missing_key = format!("${{file:{}:nope}}", secrets.display());
        // (input, the key the error names, a part of its message)
        type Case<'a> = (Vec<(String, String)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (
                props(&[("sasl.password", "${file:/x:y}")]),
                "sasl.password",
                "no config provider `file`",
            ),
            (
                props(&[
                    ("config.providers", "v"),
                    ("config.providers.v.class", "com.acme.Vault"),
                ]),
                "config.providers.v.class",
                "not supported",
            ),
            (
                props(&[("config.providers", "file")]),
                "config.providers.file.class",
                "class is not set",
            ),
            (
                props(&[&file[..], &[("ssl.key.password", missing_key.as_str())]].concat()),
                "ssl.key.password",
                "has no key `nope`",
            ),
        ];
        for (input, key, detail) in cases {
            let (k, d) = resolve(&input).unwrap_err();
            assert_eq!(k, key, "{d}");
            assert!(d.contains(detail), "{d}");
            assert!(!d.contains("s3cr3t"), "{d}");
        }
    }

    #[test]
    fn values_without_references_are_untouched() {
        let input = props(&[
            ("security.protocol", "SASL_SSL"),
            ("a", "$ { not a reference"),
        ]);
        assert_eq!(resolve(&input).unwrap(), input);
    }
}
