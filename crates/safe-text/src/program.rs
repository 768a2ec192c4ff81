//! The name hints give the program: the one the user started it as, so that a hint built in
//! any crate (`run `tsw render ENV``) names a command that works where the user typed it.
//! The binary sets it once, at start ([`set_program`]); unset (a library's unit tests), it is
//! [`INSTALLED`].

use std::borrow::Cow;
use std::sync::OnceLock;

/// The installed program's name, which static text (doc comments, the editor schema, the
/// markers in committed files) says.
pub const INSTALLED: &str = "tsw";

static PROGRAM: OnceLock<String> = OnceLock::new();

/// Sets the name [`program`] returns for the rest of the run; only the first call counts.
pub fn set_program(name: &str) {
    let _ = PROGRAM.set(name.to_owned());
}

/// The name hints give the program: `cargo xtask` or `tsw`, as set by [`set_program`];
/// [`INSTALLED`] when unset.
pub fn program() -> &'static str {
    PROGRAM.get().map_or(INSTALLED, String::as_str)
}

/// `text` written for the installed name (`` `tsw deploy` ``) with each command quoted in
/// backticks renamed to [`program`].
pub fn for_program(text: &str) -> Cow<'_, str> {
    let quoted = format!("`{INSTALLED} ");
    if program() == INSTALLED || !text.contains(&quoted) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace(&quoted, &format!("`{} ", program())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_it_is_the_installed_name() {
        // The only test in this crate that reads it; none sets it.
        assert_eq!(program(), "tsw");
        assert_eq!(
            for_program("(`tsw init` generates one)"),
            "(`tsw init` generates one)"
        );
    }
}
