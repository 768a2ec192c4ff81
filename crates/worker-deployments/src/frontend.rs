//! Which frontend the CLI dials, and with which connection settings.
//!
//! The address comes from the descriptor (`temporal.address`), else `TEMPORAL_ADDRESS`, else a
//! profile of the Temporal CLI's own config file (`temporal.toml`: `TEMPORAL_CONFIG_FILE`, or
//! the default path, profile `TEMPORAL_PROFILE` or `default`), as Temporal users already set it.
//! Everything the CLI would otherwise pick up by itself (the other `TEMPORAL_*` variables, a
//! profile, the `temporal env` file) is kept from it, and what was resolved here is passed as
//! flags: so a stray `TEMPORAL_API_KEY` or `TEMPORAL_TLS` never turns a plaintext connection
//! into TLS, nor sends a key to a server it was not meant for.

use std::path::{Path, PathBuf};

use env_descriptor::{Temporal, Tls};

use crate::RegisterError;

/// How many environments the command names: a frontend that does not come from the descriptor
/// (`TEMPORAL_ADDRESS`, a profile of the CLI's config file) is the frontend of one named
/// environment only, never of every environment of `--all` or of several names, where it would
/// serve production with staging's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Exactly one environment, named on the command line.
    One,
    /// `--all`, or several names.
    Several,
}

impl Scope {
    /// The scope of a command given `count` names, or `--all` when `all`.
    pub fn of(all: bool, count: usize) -> Self {
        if !all && count == 1 {
            Scope::One
        } else {
            Scope::Several
        }
    }
}

/// The profile the CLI uses when `TEMPORAL_PROFILE` is not set.
const DEFAULT_PROFILE: &str = "default";

/// Where the address came from; a profile also decides TLS and the API key (unless the
/// descriptor sets them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Descriptor,
    Environment,
    Profile { file: PathBuf, name: String },
}

/// TLS towards the frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TlsMode {
    /// Plaintext: `--tls=false`.
    Off,
    /// `--tls` with the descriptor's settings (paths made absolute).
    On(Tls),
    /// As the profile says (the CLI reads it from the profile).
    FromProfile,
}

/// How to reach the frontend, resolved once for every CLI call.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub address: String,
    pub source: Source,
    tls: TlsMode,
    /// The descriptor's API key (from the variable `temporal.api_key_env` names), passed to the
    /// CLI in its environment, never on its command line.
    api_key: Option<String>,
}

impl Frontend {
    /// Resolves the frontend of `temporal` (the descriptor's table; `descriptor` is its file as
    /// messages show it, `root` what its relative TLS paths are relative to), reading the
    /// process's environment through `var`. With [`Scope::Several`], only `temporal.address`.
    pub fn resolve(
        temporal: &Temporal,
        descriptor: &str,
        root: &Path,
        scope: Scope,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RegisterError> {
        if temporal.address.is_none() && scope == Scope::Several {
            let ambient = match var("TEMPORAL_ADDRESS").filter(|a| !a.is_empty()) {
                Some(_) => "TEMPORAL_ADDRESS",
                None => "a frontend from TEMPORAL_ADDRESS or the Temporal CLI's profile",
            };
            return Err(RegisterError::AmbientFrontend {
                descriptor: descriptor.to_owned(),
                ambient: ambient.to_owned(),
            });
        }
        let api_key = match &temporal.api_key_env {
            Some(name) => Some(
                var(name.as_ref()).ok_or_else(|| RegisterError::ApiKeyMissing(name.to_string()))?,
            ),
            None => None,
        };
        let (address, source) = match (&temporal.address, var("TEMPORAL_ADDRESS")) {
            (Some(address), _) => (address.to_string(), Source::Descriptor),
            (None, Some(address)) if !address.is_empty() => (address, Source::Environment),
            _ => profile_address(descriptor, &var)?,
        };
        let tls = match (temporal.tls(), temporal.tls, &source) {
            (Some(tls), _, _) => TlsMode::On(absolute(tls, root)),
            (None, Some(false), _) => TlsMode::Off,
            (None, _, Source::Profile { .. }) => TlsMode::FromProfile,
            // An API key means TLS, as the CLI and the SDKs assume.
            (None, _, _) if api_key.is_some() => TlsMode::On(Tls::default()),
            (None, _, _) => TlsMode::Off,
        };
        // An API key in cleartext only to this machine (the descriptor's own address is
        // checked by `validate`; this covers TEMPORAL_ADDRESS too).
        if tls == TlsMode::Off && api_key.is_some() && !local_endpoint::is_loopback(&address) {
            return Err(RegisterError::KeyInCleartext(address));
        }
        Ok(Frontend {
            address,
            source,
            tls,
            api_key,
        })
    }

    /// The connection flags of every call in `namespace`.
    pub(crate) fn flags(&self, namespace: &str) -> Vec<String> {
        let mut args = vec![
            "--address".to_owned(),
            self.address.clone(),
            "--namespace".to_owned(),
            namespace.to_owned(),
            // The older `temporal env` file (its `default` environment applies unasked).
            "--env-file".to_owned(),
            NULL_DEVICE.to_owned(),
        ];
        match &self.source {
            Source::Profile { file, name } => args.extend([
                "--config-file".to_owned(),
                file.display().to_string(),
                "--profile".to_owned(),
                name.clone(),
            ]),
            Source::Descriptor | Source::Environment => {
                args.push("--disable-config-file".to_owned())
            }
        }
        match &self.tls {
            TlsMode::Off => args.push("--tls=false".to_owned()),
            TlsMode::FromProfile => {}
            TlsMode::On(tls) => {
                args.push("--tls".to_owned());
                for (flag, value) in [
                    ("--tls-cert-path", &tls.cert_path),
                    ("--tls-key-path", &tls.key_path),
                    ("--tls-ca-path", &tls.ca_path),
                    ("--tls-server-name", &tls.server_name),
                ] {
                    if let Some(v) = value {
                        args.extend([flag.to_owned(), v.clone()]);
                    }
                }
            }
        }
        args
    }

    /// The variables the CLI gets beyond the allow-listed ones ([`crate::child::ALLOWED`]),
    /// which hold no `TEMPORAL_*`.
    pub(crate) fn env(&self) -> Vec<(&'static str, &str)> {
        self.api_key
            .iter()
            .map(|key| ("TEMPORAL_API_KEY", key.as_str()))
            .collect()
    }

    /// Where the address came from, for messages: `temporal.address`, `TEMPORAL_ADDRESS`, or
    /// the profile and its file.
    pub fn origin(&self) -> String {
        match &self.source {
            Source::Descriptor => "temporal.address".to_owned(),
            Source::Environment => "TEMPORAL_ADDRESS".to_owned(),
            Source::Profile { file, name } => {
                format!("profile `{name}` of {}", file.display())
            }
        }
    }
}

#[cfg(unix)]
const NULL_DEVICE: &str = "/dev/null";
#[cfg(windows)]
const NULL_DEVICE: &str = "NUL";

fn absolute(tls: Tls, root: &Path) -> Tls {
    let path = |p: Option<String>| p.map(|p| root.join(p).display().to_string());
    Tls {
        cert_path: path(tls.cert_path),
        key_path: path(tls.key_path),
        ca_path: path(tls.ca_path),
        server_name: tls.server_name,
    }
}

/// The address of the CLI's profile, or the error naming every place an address may come from.
fn profile_address(
    descriptor: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(String, Source), RegisterError> {
    let name = var("TEMPORAL_PROFILE")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    let file = var("TEMPORAL_CONFIG_FILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .or_else(|| default_config_file(var));
    let missing = |file: Option<&Path>| RegisterError::NoFrontend {
        descriptor: descriptor.to_owned(),
        profile: name.clone(),
        file: file.map_or_else(
            || "temporalio/temporal.toml in your config directory".to_owned(),
            |f| f.display().to_string(),
        ),
    };
    let Some(file) = file else {
        return Err(missing(None));
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(Some(&file))),
        Err(e) => return Err(profile_error(&file, e.to_string())),
    };
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| profile_error(&file, syntax_error(&text, &e)))?;
    match doc
        .get("profile")
        .and_then(|p| p.get(&name))
        .and_then(|p| p.get("address"))
    {
        Some(address) => match address.as_str() {
            Some(a) if !a.is_empty() => Ok((a.to_owned(), Source::Profile { file, name })),
            _ => Err(profile_error(
                &file,
                format!("`profile.{name}.address` is not a `host:port` string"),
            )),
        },
        None => Err(missing(Some(&file))),
    }
}

/// A TOML syntax error of the profile file by line and column, never quoting the line: it may
/// hold `api_key = "..."` (toml_edit's own message shows it).
fn syntax_error(text: &str, e: &toml_edit::TomlError) -> String {
    let at = e
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            format!(" at line {line}, column {column}")
        })
        .unwrap_or_default();
    let message: Vec<&str> = e.message().lines().map(str::trim).collect();
    format!("TOML syntax error{at}: {}", message.join("; "))
}

fn profile_error(file: &Path, message: String) -> RegisterError {
    RegisterError::Profile {
        file: file.to_owned(),
        message,
    }
}

/// The CLI's default config file: `temporalio/temporal.toml` in the user's config directory
/// (Go's `os.UserConfigDir`, which the CLI uses).
fn default_config_file(var: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let non_empty = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = if cfg!(windows) {
        non_empty("APPDATA")
    } else if cfg!(target_os = "macos") {
        non_empty("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        non_empty("XDG_CONFIG_HOME").or_else(|| non_empty("HOME").map(|h| h.join(".config")))
    }?;
    Some(dir.join("temporalio").join("temporal.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporal(extra: &str) -> Temporal {
        let text = format!(
            "[aws]\nregion = \"us-west-2\"\n[temporal]\nserver_role_arn = \"arn:aws:iam::123456789012:role/t\"\n{extra}\n[role]\nstack_name = \"s\"\nexternal_id = \"ext-id-1\"\nlambda_function_arns = [\"arn:aws:lambda:us-west-2:123456789012:function:f\"]\n"
        );
        env_descriptor::load_str(Path::new("environments/x.toml"), &text)
            .unwrap()
            .env
            .temporal
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn resolve(extra: &str, pairs: &[(&str, &str)]) -> Result<Frontend, RegisterError> {
        Frontend::resolve(
            &temporal(extra),
            "environments/x.toml",
            Path::new("/repo"),
            Scope::One,
            vars(pairs),
        )
    }

    #[test]
    fn the_descriptor_wins_and_nothing_ambient_reaches_the_flags() {
        let f = resolve(
            "address = \"t:7233\"",
            &[
                ("TEMPORAL_ADDRESS", "other:7233"),
                ("TEMPORAL_API_KEY", "k"),
            ],
        )
        .unwrap();
        assert_eq!(f.source, Source::Descriptor);
        assert_eq!(
            f.flags("orders"),
            [
                "--address",
                "t:7233",
                "--namespace",
                "orders",
                "--env-file",
                NULL_DEVICE,
                "--disable-config-file",
                "--tls=false"
            ]
        );
        assert!(f.env().is_empty(), "no API key: {:?}", f.env());
    }

    #[test]
    fn tls_and_the_api_key_come_from_the_descriptor() {
        let f = resolve(
            "address = \"t:7233\"\ntls_ca_path = \"ca.pem\"\napi_key_env = \"TEMPORAL_MY_API_KEY\"",
            &[("TEMPORAL_MY_API_KEY", "secret")],
        )
        .unwrap();
        let flags = f.flags("orders");
        assert!(
            flags.ends_with(&[
                "--tls".into(),
                "--tls-ca-path".into(),
                "/repo/ca.pem".into()
            ]),
            "{flags:?}"
        );
        assert!(!flags.iter().any(|f| f.contains("secret")), "{flags:?}");
        assert_eq!(f.env(), [("TEMPORAL_API_KEY", "secret")]);
        let keyed = resolve(
            "api_key_env = \"TEMPORAL_MY_API_KEY\"",
            &[("TEMPORAL_MY_API_KEY", "s"), ("TEMPORAL_ADDRESS", "e:1")],
        );
        assert!(keyed.unwrap().flags("n").ends_with(&["--tls".into()]));
        assert!(matches!(
            resolve("address = \"t:1\"\napi_key_env = \"TEMPORAL_MY_API_KEY\"", &[]),
            Err(RegisterError::ApiKeyMissing(name)) if name == "TEMPORAL_MY_API_KEY"
        ));
    }

    #[test]
    fn a_broken_profile_file_is_named_with_its_line_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("temporal.toml");
        std::fs::write(
            &file,
            "[profile.default]\naddress = \"t:7233\"\napi_key = \"SECRET-key-123\" trailing\n",
        )
        .unwrap();
        let err = resolve("", &[("TEMPORAL_CONFIG_FILE", &file.display().to_string())])
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("SECRET") && err.contains("temporal.toml") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn an_api_key_goes_in_cleartext_only_to_loopback() {
        let keyed = "tls = false\napi_key_env = \"TEMPORAL_API_KEY\"";
        let err = resolve(
            keyed,
            &[
                ("TEMPORAL_API_KEY", "secret"),
                ("TEMPORAL_ADDRESS", "t.example.com:7233"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`t.example.com:7233`")
                && err.contains("cleartext")
                && !err.contains("secret"),
            "{err}"
        );
        let f = resolve(
            keyed,
            &[
                ("TEMPORAL_API_KEY", "secret"),
                ("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
            ],
        )
        .unwrap();
        assert!(f.flags("n").ends_with(&["--tls=false".into()]));
    }

    #[test]
    fn temporal_address_then_the_profile() {
        let f = resolve("", &[("TEMPORAL_ADDRESS", "e:7233")]).unwrap();
        assert_eq!(
            (f.address.as_str(), f.origin().as_str()),
            ("e:7233", "TEMPORAL_ADDRESS")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("temporal.toml");
        std::fs::write(
            &file,
            "[profile.default]\naddress = \"d:7233\"\n[profile.prod]\naddress = \"p:7233\"\napi_key = \"k\"\n",
        )
        .unwrap();
        let file_var = file.display().to_string();
        let f = resolve(
            "",
            &[
                ("TEMPORAL_CONFIG_FILE", &file_var),
                ("TEMPORAL_PROFILE", "prod"),
            ],
        )
        .unwrap();
        assert_eq!(f.address, "p:7233");
        let flags = f.flags("orders");
        assert!(
            flags.ends_with(&[
                "--config-file".into(),
                file_var.clone(),
                "--profile".into(),
                "prod".into()
            ]),
            "the profile decides TLS and the key: {flags:?}"
        );
        // The default path, under XDG_CONFIG_HOME (Unix) or HOME.
        let config = dir.path().join("temporalio");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::copy(&file, config.join("temporal.toml")).unwrap();
        let dir_var = dir.path().display().to_string();
        let f = resolve("", &[("XDG_CONFIG_HOME", &dir_var), ("APPDATA", &dir_var)]);
        if cfg!(any(windows, not(target_os = "macos"))) {
            assert_eq!(f.unwrap().address, "d:7233");
        }
    }

    #[test]
    fn no_address_anywhere_names_every_place() {
        let err = resolve("", &[("HOME", "/home/u")]).unwrap_err().to_string();
        for place in [
            "`temporal.address` in environments/x.toml",
            "TEMPORAL_ADDRESS",
            "profile `default`",
            "temporal.toml",
        ] {
            assert!(err.contains(place), "{place}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[profile.default\n").unwrap();
        let err = resolve("", &[("TEMPORAL_CONFIG_FILE", &file.display().to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml") && err.contains("TOML"), "{err}");
    }
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn with_several_environments_only_the_descriptor_names_the_frontend() {
        let text = "[aws]\nregion = \"us-west-2\"\n[temporal]\nserver_role_arn = \"arn:aws:iam::123456789012:role/t\"\n[role]\nstack_name = \"s\"\nexternal_id = \"ext-id-1\"\nlambda_function_arns = [\"arn:aws:lambda:us-west-2:123456789012:function:f\"]\n";
        let temporal = env_descriptor::load_str(Path::new("environments/x.toml"), text)
            .unwrap()
            .env
            .temporal;
        let var = |name: &str| (name == "TEMPORAL_ADDRESS").then(|| "staging:7233".to_owned());
        let one = Frontend::resolve(&temporal, "x.toml", Path::new("/"), Scope::One, var).unwrap();
        assert_eq!(
            (one.address.as_str(), one.source),
            ("staging:7233", Source::Environment)
        );
        let several = Frontend::resolve(&temporal, "x.toml", Path::new("/"), Scope::Several, var);
        assert!(
            matches!(several, Err(RegisterError::AmbientFrontend { ref ambient, .. }) if ambient == "TEMPORAL_ADDRESS"),
            "{several:?}"
        );
        assert_eq!(Scope::of(false, 1), Scope::One);
        assert_eq!(Scope::of(true, 1), Scope::Several);
        assert_eq!(Scope::of(false, 2), Scope::Several);
    }
}
