//! The documentation stays true to the repository: every relative link of README.md,
//! ARCHITECTURE.md, CONTRIBUTING.md and docs/*.md names a file of this repository (and a heading
//! of it, for `#fragment` links), and docs/descriptor.md's key reference is the one generated
//! from the descriptor's schema, which is generated from the model's doc comments.

use std::fs;
use std::path::PathBuf;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde_json::Value;

use crate::support::repo_root;

/// The markdown files a reader of the repository meets.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"]
        .iter()
        .map(|name| root.join(name))
        .collect();
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Every link and image destination of a markdown text, outside code, in order.
fn links(markdown: &str) -> Vec<String> {
    Parser::new(markdown)
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(dest_url.into_string())
            }
            _ => None,
        })
        .collect()
}

/// A link to somewhere else than this repository: it names a scheme (`https:`, `mailto:`).
fn is_external(link: &str) -> bool {
    link.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as
/// `-`, and `-1`, `-2`, ... for repeats.
fn anchors(markdown: &str) -> Vec<String> {
    let mut anchors: Vec<String> = Vec::new();
    let mut heading: Option<String> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = heading.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let text = heading.take().unwrap_or_default();
                let slug: String = text
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect();
                let mut unique = slug.clone();
                let mut n = 1;
                while anchors.contains(&unique) {
                    unique = format!("{slug}-{n}");
                    n += 1;
                }
                anchors.push(unique);
            }
            _ => {}
        }
    }
    anchors
}

#[test]
fn every_relative_link_names_a_file_and_heading_of_the_repository() {
    let root = fs::canonicalize(repo_root()).unwrap();
    let mut broken = Vec::new();
    for document in documents() {
        let name = document
            .strip_prefix(repo_root())
            .unwrap_or(&document)
            .display()
            .to_string();
        let text = fs::read_to_string(&document)
            .unwrap_or_else(|err| panic!("cannot read `{name}`: {err}"));
        for link in links(&text).into_iter().filter(|link| !is_external(link)) {
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                document.clone()
            } else if let Some(from_root) = path.strip_prefix('/') {
                root.join(from_root)
            } else {
                document.parent().unwrap().join(path)
            };
            let Ok(target) = fs::canonicalize(&target) else {
                broken.push(format!("{name}: `{link}` names no file"));
                continue;
            };
            if !target.starts_with(&root) {
                broken.push(format!("{name}: `{link}` leaves the repository"));
                continue;
            }
            if !fragment.is_empty() && target.extension().is_some_and(|ext| ext == "md") {
                let heads = anchors(&fs::read_to_string(&target).unwrap());
                if !heads.iter().any(|anchor| anchor == fragment) {
                    broken.push(format!(
                        "{name}: `{link}` names no heading of its file (it has: {})",
                        heads.join(", ")
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The README's first link is to a page of this repository, so that a reader starts here.
#[test]
fn the_readmes_first_link_stays_in_the_repository() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let first = links(&readme)
        .into_iter()
        .next()
        .expect("README.md has links");
    assert!(
        !is_external(&first),
        "README.md's first link `{first}` leaves the repository: link a page under docs/ first"
    );
}

/// The README is the short, user-first page: what it is, the steps, install, quick start,
/// real AWS, commands, links.
#[test]
fn the_readme_is_short() {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 150,
        "README.md has {lines} lines; keep it at most 150 and move details to docs/"
    );
}

const BEGIN: &str = "<!-- BEGIN generated key reference -->\n";
const END: &str = "<!-- END generated key reference -->\n";

/// One paragraph of a schema description: its lines joined.
fn prose(node: &Value) -> String {
    let text = node["description"].as_str().unwrap_or("");
    text.split("\n\n")
        .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What kind of TOML value a key takes.
fn kind(node: &Value) -> String {
    match node["type"].as_str() {
        Some("array") => match node["items"]["type"].as_str() {
            Some("object") => "array of tables".to_owned(),
            Some(item) => format!("array of {item}s"),
            None => "array".to_owned(),
        },
        Some("object") if node.get("properties").is_some() => "table".to_owned(),
        Some("object") => "inline table of strings".to_owned(),
        Some(other) => other.to_owned(),
        None => "value".to_owned(),
    }
}

/// The key reference: each table of the schema with its description, then each key with its
/// kind, whether it is required, its default, and its description.
fn key_reference(schema: &Value) -> String {
    let mut out = String::new();
    let required_tables = schema["required"].as_array().cloned().unwrap_or_default();
    for (table, node) in schema["properties"].as_object().unwrap() {
        let (header, keys) = if node["type"] == "array" {
            (format!("[[{table}]]"), &node["items"])
        } else {
            (format!("[{table}]"), node)
        };
        let required = if required_tables.iter().any(|r| r == table) {
            "required"
        } else {
            "optional"
        };
        out.push_str(&format!(
            "### `{header}` ({required})\n\n{}\n\n",
            prose(node)
        ));
        let required_keys = keys["required"].as_array().cloned().unwrap_or_default();
        for (key, value) in keys["properties"].as_object().unwrap() {
            let mut facts = vec![kind(value)];
            if required_keys.iter().any(|r| r == key) {
                facts.push("required".to_owned());
            }
            if let Some(default) = value.get("default")
                && default != &Value::Array(vec![])
                && default != &Value::Object(Default::default())
            {
                facts.push(format!("default `{default}`"));
            }
            out.push_str(&format!(
                "- `{key}` ({}): {}\n",
                facts.join(", "),
                prose(value)
            ));
        }
        out.push('\n');
    }
    out
}

/// docs/descriptor.md's key reference is the one generated from the committed schema.
#[test]
fn the_descriptor_reference_lists_every_key_of_the_schema() {
    let root = repo_root();
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(root.join("environments/descriptor.schema.json")).unwrap(),
    )
    .unwrap();
    let path = root.join("docs/descriptor.md");
    let text = fs::read_to_string(&path).unwrap();
    let (before, rest) = text
        .split_once(BEGIN)
        .expect("docs/descriptor.md has the BEGIN marker of the key reference");
    let (current, after) = rest
        .split_once(END)
        .expect("docs/descriptor.md has the END marker of the key reference");
    let generated = format!("\n{}", key_reference(&schema));
    if current == generated {
        return;
    }
    // As the editor schema's test does (rust-analyzer's `ensure_file_contents`): a stale page is
    // rewritten, and the test fails so that the new one gets committed.
    fs::write(&path, format!("{before}{BEGIN}{generated}{END}{after}")).unwrap();
    panic!("docs/descriptor.md's key reference was stale and has been updated; commit it");
}

/// The generated reference names every key of the schema under its own table, so that with
/// the test above the committed page lists every key: a key the generator skipped would be a
/// key no reader finds.
#[test]
fn the_descriptor_reference_names_each_key_under_its_table() {
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(repo_root().join("environments/descriptor.schema.json")).unwrap(),
    )
    .unwrap();
    let section = key_reference(&schema);
    let mut missing = Vec::new();
    for (table, node) in schema["properties"].as_object().unwrap() {
        let (heading, keys) = if node["type"] == "array" {
            (format!("### `[[{table}]]`"), &node["items"])
        } else {
            (format!("### `[{table}]`"), node)
        };
        let Some(start) = section.find(&heading) else {
            missing.push(heading);
            continue;
        };
        let own = &section[start..];
        let own = own[1..].find("\n### ").map_or(own, |end| &own[..=end]);
        for key in keys["properties"].as_object().unwrap().keys() {
            if !own.contains(&format!("\n- `{key}` (")) {
                missing.push(format!("{table}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the generated key reference lacks: {}",
        missing.join(", ")
    );
}
