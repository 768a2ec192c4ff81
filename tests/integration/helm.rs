//! A Helm-deployed server: `render` puts the workercontroller keys under `server.dynamicConfig`
//! of the chart's values file (`temporal.helm_values`), keeps every other byte, refuses clashes
//! and leaves the file as it was.

use std::path::PathBuf;

use crate::support::{Checkout, descriptor};

/// A values file shaped like the official chart's (`charts/temporal/values.yaml`): comments,
/// other server keys, the lists of the chart's dynamic config example at the key's indentation.
fn values(dynamic_config: &str) -> String {
    format!(
        "# Values for our Temporal release (helm upgrade -f deploy/helm/values.yaml).\n\
         nameOverride: \"\"\n\
         server:\n\
         \x20 enabled: true\n\
         \x20 image:\n\
         \x20   repository: temporalio/server\n\
         \x20   tag: 1.32.0   # pinned by the platform team\n\
         \x20 replicaCount: 3\n\
         \x20 config:\n\
         \x20   logLevel: \"debug,info\"\n\
         \x20   # IMPORTANT: This value cannot be changed, once it's set.\n\
         \x20   numHistoryShards: 512\n\
         {dynamic_config}\
         \x20 frontend:\n\
         \x20   service:\n\
         \x20     port: 7233\n\
         web:\n\
         \x20 enabled: true   # the UI\n"
    )
}

const EMPTY: &str =
    "  # Dynamic config, see values/values.dynamic_config.yaml\n  dynamicConfig: {}\n";
const KEYS: &str = "  dynamicConfig:\n    matching.numTaskqueueReadPartitions:\n    - value: 5\n      constraints: {}\n    matching.numTaskqueueWritePartitions:\n    - value: 5\n      constraints: {}   # same as read\n";

struct Helm {
    co: Checkout,
    file: PathBuf,
    env: String,
}

impl Helm {
    fn new(contents: &str) -> Self {
        let co = Checkout::new();
        let file = co.root().join("deploy/helm/values.yaml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, contents).unwrap();
        let env = descriptor("it-helm", "helm-ext-id", &["f"]).replace(
            "[role]",
            "helm_values = \"deploy/helm/values.yaml\"\n\n[role]",
        );
        co.write_env("helm", &env);
        Helm { co, file, env }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap()
    }
}

/// The file without the managed block (its marker lines and what is between them).
fn without_block(text: &str) -> String {
    let begin = text
        .find("# >>> tsw: workercontroller")
        .expect("a begin marker");
    let begin = text[..begin].rfind('\n').map_or(0, |i| i + 1);
    let end_marker = "# <<< tsw: workercontroller <<<\n";
    let end = text.find(end_marker).expect("an end marker") + end_marker.len();
    format!("{}{}", &text[..begin], &text[end..])
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap()
}

/// What the server reads: the chart's `server.dynamicConfig`, as the ConfigMap holds it.
fn dynamic_config(text: &str) -> serde_yaml::Value {
    yaml(text)["server"]["dynamicConfig"].clone()
}

fn assert_keys_for_both_namespaces(text: &str) {
    let dc = dynamic_config(text);
    let enabled = dc["workercontroller.enabled"].as_sequence().unwrap();
    let namespaces: Vec<&str> = enabled
        .iter()
        .map(|e| e["constraints"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["orders", "billing"], "{text}");
    assert!(
        dc["workercontroller.scaling_algorithms.enabled"][0]["value"]
            .as_sequence()
            .unwrap()
            .contains(&"no-sync".into()),
        "{text}"
    );
    env_render::dynamic_config::check(&serde_yaml::to_string(&dc).unwrap()).unwrap();
}

#[test]
fn render_puts_the_keys_under_server_dynamic_config_and_keeps_every_other_byte() {
    // The chart's own example values: keys already there, lists at the key's indentation.
    let original = values(KEYS);
    let helm = Helm::new(&original);
    let run = helm.co.xtask(&["render", "helm"]);
    run.success();
    assert!(
        run.stdout.contains(
            "updated the workercontroller keys under server.dynamicConfig of deploy/helm/values.yaml"
        ),
        "{}",
        run.stdout
    );
    let after = helm.text();
    assert_eq!(
        without_block(&after),
        original,
        "every byte outside the block is kept"
    );
    assert!(
        after.contains("      constraints: {}   # same as read\n    # >>> tsw: workercontroller"),
        "the block follows the keys, at their indentation:\n{after}"
    );
    assert_keys_for_both_namespaces(&after);
    let (mut was, mut now) = (yaml(&original), yaml(&after));
    for v in [&mut was, &mut now] {
        let dc = v["server"]["dynamicConfig"].as_mapping_mut().unwrap();
        dc.retain(|k, _| !k.as_str().unwrap().starts_with("workercontroller."));
    }
    assert_eq!(was, now, "no other key changed");

    // Idempotent, and `--check` agrees; a changed descriptor is stale and shown as a diff.
    assert_eq!(helm.co.xtask(&["render", "helm"]).success().stdout, "");
    helm.co.xtask(&["render", "--check", "helm"]).success();
    helm.co.write_env(
        "helm",
        &helm
            .env
            .replace("[ \"orders\",   \"billing\" ]", "[\"orders\"]"),
    );
    let run = helm.co.xtask(&["render", "--check", "helm"]);
    run.failure();
    assert!(
        run.stderr.contains("stale: deploy/helm/values.yaml"),
        "{}",
        run.stderr
    );
    // Three lines of context before the first entry for `billing` (line 25).
    let diff =
        "--- a/deploy/helm/values.yaml\n+++ b/deploy/helm/values.yaml\n@@ -22,16 +22,10 @@\n";
    assert!(run.stderr.contains(diff), "a unified diff: {}", run.stderr);
    let changed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    // In each file, the two `billing` entries (three lines each) go; nothing else changes.
    assert_eq!(changed.len(), 12, "{changed:#?}");
    assert!(changed.iter().all(|l| l.starts_with('-')), "{changed:#?}");
    assert_eq!(
        changed
            .iter()
            .filter(|l| l.ends_with("namespace: \"billing\""))
            .count(),
        4
    );
    assert!(
        run.stderr.contains("stale: environments/helm/dynamicconfig.yaml\n--- a/environments/helm/dynamicconfig.yaml\n"),
        "{}",
        run.stderr
    );
    assert_eq!(helm.text(), after, "--check writes nothing");
}

#[test]
fn an_empty_or_missing_dynamic_config_becomes_a_block_mapping() {
    let empty = values(EMPTY);
    let helm = Helm::new(&empty);
    helm.co.xtask(&["render", "helm"]).success();
    let after = helm.text();
    assert_eq!(
        without_block(&after),
        empty.replace("dynamicConfig: {}", "dynamicConfig:"),
        "only the empty `{{}}` goes"
    );
    assert_keys_for_both_namespaces(&after);

    // The chart's values.yaml has no `dynamicConfig` at all: it is added at the end of `server`.
    let missing = values("");
    let helm = Helm::new(&missing);
    helm.co.xtask(&["render", "helm"]).success();
    let after = helm.text();
    assert_eq!(
        without_block(&after),
        missing.replace(
            "      port: 7233\nweb:",
            "      port: 7233\n  dynamicConfig:\nweb:"
        ),
        "{after}"
    );
    assert_keys_for_both_namespaces(&after);
}

#[test]
fn a_clashing_values_file_is_refused_and_left_as_it_was() {
    let clashing = values("  dynamicConfig:\n    workercontroller.enabled:\n    - value: false\n");
    let helm = Helm::new(&clashing);
    for args in [&["render", "helm"][..], &["render", "--check", "helm"]] {
        let run = helm.co.xtask(args);
        run.failure();
        assert!(
            run.stderr.contains("not updating `")
                && run.stderr.contains("deploy/helm/values.yaml")
                && run.stderr.contains(
                    "already sets `workercontroller.enabled` (line 14) outside the managed block"
                ),
            "{}",
            run.stderr
        );
        assert_eq!(helm.text(), clashing);
    }
    // `dynamic_config_file` beside `helm_values`: refused by validate, with both lines.
    helm.co.write_env(
        "helm",
        &helm.env.replace(
            "helm_values = ",
            "dynamic_config_file = \"server/dc.yaml\"\nhelm_values = ",
        ),
    );
    let run = helm.co.xtask(&["render", "helm"]);
    run.failure();
    assert!(
        run.stderr.contains(
            "`temporal.helm_values`: cannot be set beside `dynamic_config_file` (line 10)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(helm.text(), clashing);

    // A values file that is not there is named as what it is: not a template.
    helm.co.write_env("helm", &helm.env);
    std::fs::remove_file(&helm.file).unwrap();
    let run = helm.co.xtask(&["render", "helm"]);
    run.failure();
    assert!(
        run.stderr.contains("cannot read `")
            && run
                .stderr
                .contains("deploy/helm/values.yaml`: No such file")
            && !run.stderr.contains("template"),
        "{}",
        run.stderr
    );
}
