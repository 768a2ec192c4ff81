//! Byte-level habits of a text file that a parser forgets and a rewrite must keep: a UTF-8
//! byte-order mark and the line endings. `toml_edit` drops the one and writes `\n` for the
//! other, so an editor strips the mark before parsing and restores both afterwards.

/// The UTF-8 byte-order mark, as some Windows editors write it at the start of a file.
pub const BOM: &str = "\u{feff}";

/// Splits a leading byte-order mark off `src`: `(whether there was one, the rest)`.
pub fn strip_bom(src: &str) -> (bool, &str) {
    match src.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, src),
    }
}

/// Gives `edited`, an edit of `original` by a parser that normalises line endings, the line
/// endings of `original` back: the lines before and after the edited region are taken from
/// `original` byte for byte, and the lines in between get the file's usual ending (`\r\n` when
/// most of its lines end so). Linear in the size of the files.
pub fn restore_line_endings(original: &str, edited: &str) -> String {
    let old: Vec<&str> = original.split_inclusive('\n').collect();
    let new: Vec<&str> = edited.split_inclusive('\n').collect();
    let prefix = old
        .iter()
        .zip(&new)
        .take_while(|(a, b)| same_line(a, b))
        .count();
    let room = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| same_line(a, b))
        .count();
    let crlf = mostly_crlf(original);
    let mut out = String::with_capacity(edited.len() + edited.len() / 16);
    old[..prefix].iter().for_each(|l| out.push_str(l));
    for line in &new[prefix..new.len() - suffix] {
        match line.strip_suffix('\n') {
            Some(body) if crlf && !body.ends_with('\r') => {
                out.push_str(body);
                out.push_str("\r\n");
            }
            _ => out.push_str(line),
        }
    }
    old[old.len() - suffix..]
        .iter()
        .for_each(|l| out.push_str(l));
    out
}

/// A line without its ending, and whether it had one.
fn body(line: &str) -> (&str, bool) {
    match line.strip_suffix('\n') {
        Some(l) => (l.strip_suffix('\r').unwrap_or(l), true),
        None => (line, false),
    }
}

fn same_line(a: &str, b: &str) -> bool {
    body(a) == body(b)
}

fn mostly_crlf(src: &str) -> bool {
    let crlf = src.matches("\r\n").count();
    let lf = src.matches('\n').count() - crlf;
    crlf > lf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_is_split_off() {
        assert_eq!(strip_bom("\u{feff}a = 1\n"), (true, "a = 1\n"));
        assert_eq!(strip_bom("a = 1\n"), (false, "a = 1\n"));
    }

    #[test]
    fn untouched_lines_keep_their_endings_and_new_lines_follow_the_file() {
        let original = "a\r\nb\n\r\nc\r\n";
        let edited = "a\nb\n\nx\ny\nc\n";
        assert_eq!(
            restore_line_endings(original, edited),
            "a\r\nb\n\r\nx\r\ny\r\nc\r\n"
        );
        // LF files stay LF; a last line without ending stays without.
        assert_eq!(restore_line_endings("a\nb", "a\nz\nb"), "a\nz\nb");
        // Nothing shared: every line gets the file's ending.
        assert_eq!(restore_line_endings("p\r\n", "q\nr\n"), "q\r\nr\r\n");
        // A raw CRLF the parser kept (inside a multi-line string) is not doubled.
        assert_eq!(restore_line_endings("s\r\n", "t\r\nu\n"), "t\r\nu\r\n");
    }
}
