//! What a pull request's values do to the terminal, the CI log and the plan comment: control and
//! bidi characters are shown escaped, no line starts a workflow command (`::`), a huge value is
//! quoted as an excerpt, and the markdown holds no live HTML, link or mention of a value.

use crate::support::{Checkout, create_functions, descriptor, free_port, function_arn};

/// A descriptor `validate` reads without any service: every key, no endpoint.
fn offline(stack: &str) -> String {
    format!(
        r#"[aws]
region = "us-east-1"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:user/ci"

[role]
stack_name = "{stack}"
external_id = 'hostile-ext-id'
lambda_function_arns = ["arn:aws:lambda:us-east-1:123456789012:function:worker"]
"#
    )
}

/// Characters that must never reach a terminal or log raw (C0 but line feed and tab, DEL, C1,
/// bidi controls, zero-width and other invisible characters).
fn raw_hidden(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
        .collect()
}

/// The output a CI log may show: nothing raw, no workflow command.
#[track_caller]
pub(crate) fn assert_safe_for_a_log(what: &str, text: &str) {
    assert_eq!(raw_hidden(text), Vec::<char>::new(), "{what}:\n{text:?}");
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::"),
            "{what}: a line is a workflow command: {line:?}\nin:\n{text}"
        );
    }
    assert!(!text.contains("##["), "{what}:\n{text}");
}

#[test]
fn validate_shows_hostile_values_lines_and_file_names_escaped() {
    let co = Checkout::new();
    // A raw escape sequence and a bidi override in the file (not valid TOML: the line is quoted).
    co.write_env(
        "raw",
        &offline("raw").replace(
            "external_id = 'hostile-ext-id'",
            "external_id = 'x\x1b]0;pwned\x07\x1b[2J\u{202e}di-lanretxe'",
        ),
    );
    // The same as TOML escapes: the value holds them, and a line break before a command.
    co.write_env(
        "escaped",
        &offline("escaped\\u001b[2J\\u202e\\n::add-mask::secret\\n::error::fake").replace(
            "[temporal]",
            "[temporal]\naddress = \"evil\\u202e\\u200b\\u001b]0;t\\u0007:7233\"",
        ),
    );
    // A file name the tool lists.
    std::fs::write(
        co.root()
            .join("environments/\x1b]0;title\x07\u{202e}lmot.toml"),
        offline("named"),
    )
    .unwrap();

    let run = co.xtask(&["validate"]);
    run.failure();
    assert_safe_for_a_log("stdout", &run.stdout);
    assert_safe_for_a_log("stderr", &run.stderr);
    assert!(
        run.stderr
            .contains("\\x1b]0;pwned\\x07\\x1b[2J\\u{202e}di-lanretxe"),
        "the line is quoted, escaped:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("\\u{202e}"), "{}", run.stderr);

    // One environment at a time: each value is refused, naming its key.
    let run = co.xtask(&["validate", "escaped"]);
    run.failure();
    assert_safe_for_a_log("stderr", &run.stderr);
    assert!(run.stderr.contains("role.stack_name"), "{}", run.stderr);
    assert!(run.stderr.contains("temporal.address"), "{}", run.stderr);
}

/// `render --check` prints the server file's diff to the CI log: its lines are the file's.
#[test]
fn render_check_shows_a_hostile_files_lines_escaped() {
    let co = Checkout::new();
    std::fs::create_dir_all(co.root().join("server")).unwrap();
    std::fs::write(
        co.root().join("server/dc.yaml"),
        "# id-\u{202e}verse \u{200b}\u{2066}\n::add-mask::secret:\n  - value: 1\n",
    )
    .unwrap();
    co.write_env(
        "rc",
        &offline("rc").replace(
            "[temporal]",
            "[temporal]\ndynamic_config_file = \"server/dc.yaml\"",
        ),
    );
    let run = co.xtask(&["render", "--check", "rc"]);
    run.failure();
    assert!(
        run.stderr.contains("\\::add-mask::secret:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("id-\\u{202e}verse"), "{}", run.stderr);
    assert_safe_for_a_log("stdout", &run.stdout);
    assert_safe_for_a_log("stderr", &run.stderr);
}

#[test]
fn a_huge_value_is_quoted_as_a_bounded_excerpt() {
    let co = Checkout::new();
    // 3 MiB: under the 4 MiB a descriptor may have (a larger file is refused unread).
    let huge = "A".repeat(3 << 20);
    co.write_env("huge", &offline(&huge));
    let run = co.xtask(&["validate", "huge"]);
    run.failure();
    assert!(
        run.stderr.contains("role.stack_name"),
        "{}",
        &run.stderr[..2000.min(run.stderr.len())]
    );
    assert!(
        run.all().len() < 4096,
        "{} bytes of output for one bad value:\n{}",
        run.all().len(),
        &run.all()[..2000.min(run.all().len())]
    );
    assert!(run.stderr.contains("bytes left out"), "{}", run.stderr);
}

/// Markdown a pull request comment may show: none of the values became HTML, a link, an image
/// or a mention; checked with a CommonMark parser (GitHub's flavour: tables) and by hand.
#[track_caller]
pub(crate) fn assert_inert_markdown(md: &str) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    assert_safe_for_a_log("markdown", md);
    // The tool's own tags; anything else in an HTML node came from a value.
    const OWN: &[&str] = &[
        "<details>",
        "</details>",
        "<summary>",
        "</summary>",
        "<br>",
        "<code>",
        "</code>",
    ];
    let mut in_code = 0;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let mut tags = html.to_string();
                for own in OWN {
                    tags = tags.replace(own, "");
                }
                assert!(!tags.contains('<'), "a live HTML tag: {html:?}\nin:\n{md}");
                // GitHub links no mention in the tool's own `<code>`.
                let mut text = html.to_string();
                while let (Some(open), Some(close)) = (text.find("<code>"), text.find("</code>")) {
                    assert!(open < close, "{html:?}");
                    text.replace_range(open..close + "</code>".len(), "");
                }
                assert!(
                    !text.contains('@'),
                    "a mention in HTML: {html:?}\nin:\n{md}"
                );
            }
            // GitHub links nothing in a code block.
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code -= 1,
            Event::Start(Tag::Link { dest_url, .. }) => {
                panic!("a link to {dest_url}:\n{md}")
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                panic!("an image of {dest_url}:\n{md}")
            }
            Event::Text(text) if in_code == 0 => {
                assert!(
                    !text.contains('@'),
                    "a mention outside code: {text:?}\nin:\n{md}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn plan_markdown_of_hostile_values_is_inert() {
    let co = Checkout::new();
    let stack = "it-hostile-md";
    create_functions(&["it-hostile-fn"]);
    // The server's own file: its lines are the diff's context.
    let server_dir = co.root().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server_file = "server/<img src=x>@org.yaml";
    std::fs::write(
        co.root().join(server_file),
        "limit.maxIDLength:\n  - value: 255\n# ```\n# </details><details><summary>All checks passed</summary>\n# @org/team <img src=x onerror=alert(1)> id-\u{202e}verse\u{200b}\n::add-mask::secret:\n  - value: 1\n",
    )
    .unwrap();
    let text = descriptor(stack, "hostile-md-ext-id", &["it-hostile-fn"])
        .replace(
            "[role]",
            &format!(
                "dynamic_config_file = \"{server_file}\"\naddress = \"127.0.0.1:{}\"\n\n[role]",
                free_port()
            ),
        )
        .replace(
            "confirm = true\n",
            "confirm = true\ntags = { \"@org/team\" = \"::add-mask::x\", \"All checks passed\" = \"https://example.invalid/approve\" }\n",
        )
        + &format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"</code><a href=//example-invalid/approve>Approve</a>\"\nbuild_id = \"b`<img src=x>`|@org/team|<details>\"\nlambda_function_arn = \"{}\"\n",
            function_arn("it-hostile-fn")
        );
    co.write_env("md", &text);
    co.xtask(&["validate", "md"]).success();

    let run = co.xtask(&["plan", "md", "--output", "markdown"]);
    run.success();
    assert!(run.stdout.contains("All checks passed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("id-\\u{202e}verse\\u{200b}"),
        "the file's bidi override, escaped:\n{}",
        run.stdout
    );
    assert_inert_markdown(&run.stdout);
    assert_safe_for_a_log("stderr", &run.stderr);

    let run = co.xtask(&["plan", "md"]);
    run.success();
    assert_safe_for_a_log("text", &run.stdout);
    let run = co.xtask(&["plan", "md", "--output", "json"]);
    run.success();
    assert_safe_for_a_log("json", &run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    assert_eq!(
        json["environments"][0]["stack"]["tags"][0]["new"], "::add-mask::x",
        "the JSON holds the values as they are"
    );
}
