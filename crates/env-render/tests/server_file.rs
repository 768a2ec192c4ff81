//! Updating the dynamic config file the server reads (`temporal.dynamic_config_file`) in place:
//! the tool's keys change, every other byte stays, and a file it cannot read safely is refused
//! and left as it was.

mod support;

use std::path::PathBuf;

use env_render::{Rendered, Templates};
use support::{checkout, env};

const BEGIN: &str = "# >>> tsw: workercontroller";
const END: &str = "# <<< tsw: workercontroller <<<";

/// Keys of the server's own, set by hand.
const HAND: &str = "# Our server's dynamic config.\nfrontend.enableUpdateWorkflowExecution:\n  - value: true   # keep me\n\nlimit.maxIDLength:\n  - value: 255\n    constraints: {}\n";

fn rendered(namespaces: &[&str]) -> Rendered {
    let namespaces = namespaces.iter().map(|n| (*n).to_owned()).collect();
    Templates::load(&checkout())
        .unwrap()
        .render(&env(Some(namespaces), None))
        .unwrap()
}

/// A server file with `contents` in a fresh directory.
struct ServerFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl ServerFile {
    fn new(contents: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dynamicconfig.yaml");
        std::fs::write(&path, contents).unwrap();
        ServerFile { _dir: dir, path }
    }

    fn update(&self, namespaces: &[&str]) -> Result<bool, String> {
        rendered(namespaces)
            .update_server_file(
                &env_descriptor::Layout::at(self.path.parent().unwrap()),
                &self.path,
                "staging",
            )
            .map_err(|e| e.to_string())
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }
}

/// The managed block the tool writes for `namespaces`, as it appears after `HAND`.
fn block(namespaces: &[&str]) -> String {
    let file = ServerFile::new(HAND);
    assert!(file.update(namespaces).unwrap());
    let text = file.text();
    assert!(text.starts_with(HAND), "{text}");
    text[HAND.len()..].to_owned()
}

fn yaml(s: &str) -> serde_json::Value {
    serde_yaml::from_str(s.trim_start_matches('\u{feff}')).unwrap()
}

/// The marker's text where it is not a marker: in a comment with other text, in a quoted
/// string, in a block scalar, in a multi-line quoted string on a line of its own.
const LOOKALIKES: &[&str] = &[
    "# the tool's keys follow `# >>> tsw: workercontroller (managed) >>>` below\nfrontend.a:\n  - value: 1\n",
    "frontend.motd:\n  - value: \"# >>> tsw: workercontroller\"\n",
    "frontend.single:\n  - value: '# >>> tsw: workercontroller (managed) >>>'\n",
    "frontend.note:\n  - value: |\n      # >>> tsw: workercontroller (managed) >>>\n      # <<< tsw: workercontroller <<<\n",
    "frontend.folded:\n  - value: \"first\n# >>> tsw: workercontroller (managed) >>>\n      last\"\n",
];

#[test]
fn marker_text_outside_a_marker_line_deletes_nothing() {
    let old = block(&["orders", "billing"]);
    let new = block(&["orders"]);
    let tail = "history.tail:\n  - value: 2\n";
    for lookalike in LOOKALIKES {
        let before = format!("{lookalike}{HAND}");
        let file = ServerFile::new(&format!("{before}{old}{tail}"));
        assert_eq!(file.update(&["orders"]), Ok(true), "{lookalike}");
        assert_eq!(
            file.text(),
            format!("{before}{new}{tail}"),
            "only the block changed"
        );
        // Without a block yet, one is added after everything.
        let file = ServerFile::new(&before);
        assert_eq!(file.update(&["orders"]), Ok(true), "{lookalike}");
        assert_eq!(file.text(), format!("{before}{new}"));
        assert_eq!(file.update(&["orders"]), Ok(false), "idempotent");
    }
}

#[test]
fn a_half_block_is_refused_with_its_lines_and_the_file_is_left_alone() {
    let old = block(&["orders"]);
    let begin = old.lines().next().unwrap().to_owned();
    let body: String = old
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    // HAND has 7 lines: markers below start on line 8.
    for (contents, expect) in [
        (
            format!("{HAND}{begin}\n{body}"),
            vec!["line 8", "no end marker"],
        ),
        (
            format!("{HAND}{body}{END}\n"),
            vec!["line 18", "no begin marker"],
        ),
        (
            format!("{HAND}{begin}\nfrontend.b:\n  - value: 1\n{begin}\n{body}{END}\n"),
            vec!["lines 8 and 11"],
        ),
        (
            format!("{HAND}{END}\n{body}{begin}\n"),
            vec!["line 8", "line 19"],
        ),
        (
            format!("{HAND}{begin}\n{body}{END}\n{begin}\n{END}\n"),
            vec!["lines 8 and 20"],
        ),
    ] {
        let file = ServerFile::new(&contents);
        let err = file.update(&["orders", "billing"]).unwrap_err();
        for e in expect {
            assert!(err.contains(e), "{e:?} in {err}\n{contents}");
        }
        assert!(err.contains("left as it was"), "{err}");
        assert_eq!(file.text(), contents, "byte-identical");
    }
}

#[test]
fn clashing_keys_are_refused_with_their_lines() {
    let contents = format!("{HAND}WorkerController.Enabled:\n  - value: false\n");
    let file = ServerFile::new(&contents);
    let err = file.update(&["orders"]).unwrap_err();
    assert!(
        err.contains("`WorkerController.Enabled` (line 8) outside the managed block"),
        "{err}"
    );
    assert_eq!(file.text(), contents);
}

#[test]
fn a_hand_written_key_inside_the_block_is_refused_not_dropped() {
    let old = block(&["orders"]);
    let (first, rest) = old.split_once('\n').unwrap();
    let contents = format!("{HAND}{first}\nfrontend.mine:\n  - value: 1\n{rest}");
    let file = ServerFile::new(&contents);
    let err = file.update(&["orders", "billing"]).unwrap_err();
    assert!(
        err.contains("`frontend.mine` (line 9) is inside the managed block"),
        "{err}"
    );
    assert_eq!(file.text(), contents);
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_survive() {
    let crlf = HAND.replace('\n', "\r\n");
    for contents in [
        crlf.clone(),
        format!("\u{feff}{HAND}"),
        format!("\u{feff}{crlf}"),
    ] {
        let file = ServerFile::new(&contents);
        assert_eq!(file.update(&["orders", "billing"]), Ok(true));
        let after = file.text();
        assert!(after.starts_with(&contents), "{after:?}");
        assert_eq!(
            after.starts_with('\u{feff}'),
            contents.starts_with('\u{feff}')
        );
        if contents.contains('\r') {
            assert_eq!(
                after.matches('\n').count(),
                after.matches("\r\n").count(),
                "no bare LF: {after:?}"
            );
        } else {
            assert!(!after.contains('\r'));
        }
        assert_eq!(
            yaml(&after)["workercontroller.enabled"][1]["constraints"]["namespace"],
            "billing"
        );
        // Replacing the block keeps them too, and a second run changes nothing.
        assert_eq!(file.update(&["orders"]), Ok(true));
        let again = file.text();
        assert!(again.starts_with(&contents) && !again.contains("billing"));
        assert_eq!(
            again.matches('\n').count(),
            if contents.contains('\r') {
                again.matches("\r\n").count()
            } else {
                again.matches('\n').count()
            }
        );
        assert_eq!(file.update(&["orders"]), Ok(false));
    }
}

#[test]
fn keys_before_and_after_the_block_are_kept_byte_for_byte() {
    let old = block(&["orders", "billing"]);
    let new = block(&["orders"]);
    let after = "# trailing comment\nhistory.x:\n  - value: \"kept\"   # as is\n    constraints: {namespace: \"a\"}\n\n\n";
    let file = ServerFile::new(&format!("{HAND}{old}{after}"));
    assert_eq!(file.update(&["orders"]), Ok(true));
    assert_eq!(file.text(), format!("{HAND}{new}{after}"));
    assert!(
        new.starts_with(BEGIN) && new.ends_with(&format!("{END}\n")),
        "{new}"
    );
}
