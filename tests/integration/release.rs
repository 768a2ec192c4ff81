//! The release metadata agrees with itself: CHANGELOG.md's newest release is the version the
//! workspace builds (`[workspace.package] version` of the root Cargo.toml), with a date and a
//! link to its tag `vX.Y.Z` on the repository the workspace names.

use std::fs;

use crate::support::repo_root;

/// The value of `key = "..."` in the `[workspace.package]` table of the root Cargo.toml.
fn workspace_package(key: &str) -> String {
    let manifest = fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let mut in_table = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
        } else if in_table
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return v.trim().trim_matches('"').to_owned();
        }
    }
    panic!("Cargo.toml: no `{key}` in [workspace.package]");
}

/// Each `## [NAME] ...` heading of CHANGELOG.md, in file order: (NAME, the rest of the line).
fn changelog_headings(changelog: &str) -> Vec<(String, String)> {
    changelog
        .lines()
        .filter_map(|line| line.strip_prefix("## ["))
        .filter_map(|rest| rest.split_once(']'))
        .map(|(name, rest)| (name.to_owned(), rest.trim().to_owned()))
        .collect()
}

#[test]
fn the_changelogs_newest_release_is_the_workspace_version_with_its_tag() {
    let version = workspace_package("version");
    let repository = workspace_package("repository");
    let changelog = fs::read_to_string(repo_root().join("CHANGELOG.md")).unwrap();
    let headings = changelog_headings(&changelog);

    assert_eq!(
        headings.first().map(|(name, _)| name.as_str()),
        Some("Unreleased"),
        "CHANGELOG.md: the first heading is `## [Unreleased]`, where changes wait for a release"
    );
    let (newest, rest) = headings
        .iter()
        .find(|(name, _)| name != "Unreleased")
        .expect("CHANGELOG.md has a `## [X.Y.Z] - YYYY-MM-DD` heading");
    assert_eq!(
        newest, &version,
        "CHANGELOG.md's newest release `{newest}` is not the workspace version `{version}` \
         (Cargo.toml [workspace.package] version): add its heading, or set the version"
    );
    let date = rest.strip_prefix("- ").unwrap_or_default();
    assert!(
        date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }),
        "CHANGELOG.md: `## [{newest}] {rest}` has no date: `## [{newest}] - YYYY-MM-DD`"
    );
    let link = format!("[{version}]: {repository}/releases/tag/v{version}");
    assert!(
        changelog.lines().any(|line| line == link),
        "CHANGELOG.md has no link to the release's tag: `{link}`"
    );
}
