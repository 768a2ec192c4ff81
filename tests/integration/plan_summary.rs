//! `plan --summary-file` against the emulator, as the CI recipe runs it: the full plan on
//! stdout and the pull request comment's summary in the file, also when one environment fails
//! (the one the summary lists first).

use crate::support::{Checkout, descriptor, emulator, free_port};

#[test]
fn the_summary_is_written_with_the_full_plan_also_when_an_environment_fails() {
    let co = Checkout::new();
    co.write_env(
        "sum-ok",
        &descriptor("it-summary-ok", "summary-ext-1", &["f"]),
    );
    // Nothing answers here: this environment's plan fails, the other's is made.
    let closed = format!("http://127.0.0.1:{}", free_port());
    co.write_env(
        "sum-down",
        &descriptor("it-summary-down", "summary-ext-2", &["f"]).replace(&emulator().url(), &closed),
    );
    let summary = co.root().join("summary.md");
    let summary_arg = summary.display().to_string();
    let run = co.xtask(&[
        "plan",
        "sum-ok",
        "sum-down",
        "--output",
        "markdown",
        "--detailed-exitcode",
        "--summary-file",
        &summary_arg,
        "--summary-limit",
        "2000",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stdout.contains("### `sum-ok`: changes"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&summary).expect("the summary, written despite the failure");
    assert!(text.len() <= 2000, "{text}");
    assert!(
        text.starts_with(
            "**2 environments: 1 with changes, 1 failed, 0 without changes; 0 with role drift.**\n"
        ),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0].starts_with("| `sum-down` |")
            && rows[0].ends_with("| `us-east-1` | error | none |"),
        "{text}"
    );
    assert!(
        rows[1].starts_with("| `sum-ok` |") && rows[1].contains("| changes |"),
        "{text}"
    );

    // A limit too small for the summary's own lines is a usage error, before any AWS call.
    let run = co.xtask(&[
        "plan",
        "sum-ok",
        "--summary-file",
        &summary_arg,
        "--summary-limit",
        "10",
    ]);
    assert_ne!(run.code, Some(0), "{}", run.all());
    assert!(run.stderr.contains("at least 1000"), "{}", run.stderr);
}
