//! hutch's one error type: a message that already carries its context.
//!
//! The system layer returns `io::Result`; each stage adds one line of context
//! with [`Context::ctx`] ("Can't find source path /x: No such file or directory").

use std::fmt;
use std::io;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    msg: String,
    /// The errno behind the message, for diagnostics (src/stage/diagnose.rs).
    errno: Option<i32>,
}

impl Error {
    pub fn msg(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            errno: None,
        }
    }

    pub fn io(context: impl fmt::Display, err: io::Error) -> Self {
        Error {
            msg: format!("{context}: {}", strerror(&err)),
            errno: err.raw_os_error(),
        }
    }

    /// The errno of an [`Error::io`], if there was one.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// The same error with `more` appended to its message.
    pub fn with_hint(mut self, more: &str) -> Self {
        self.msg.push_str(more);
        self
    }
}

/// The C library's wording of an errno ("No such file or directory"), without
/// Rust's " (os error 2)" suffix, so that messages read like bwrap's.
pub fn strerror(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => crate::sys::strerror(code),
        None => err.to_string(),
    }
}

/// One line, always: control characters (a newline or a terminal escape in a
/// value given on the command line, quoted back in a message) are written escaped,
/// so that a message cannot forge another line or drive the terminal.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.msg.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_fmt(format_args!("{c}"))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// An injected failure (src/fault.rs) reads like the real one: `CONTEXT: STRERROR`.
impl From<crate::fault::Injected> for Error {
    fn from(i: crate::fault::Injected) -> Error {
        Error::io(i.step.context(), io::Error::from_raw_os_error(i.errno))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Add one line of context to an `io::Result`.
pub trait Context<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), io::Error::from_raw_os_error(e as i32)))
    }
}

/// The name under which messages are printed, and whether to add `<3>`.
pub struct Messages {
    pub name: &'static str,
    pub level_prefix: bool,
}

impl Messages {
    pub fn error(&self, msg: &str) {
        let p = if self.level_prefix { "<3>" } else { "" };
        eprintln!("{p}{}: {msg}", self.name);
    }
    pub fn warn(&self, msg: &str) {
        let p = if self.level_prefix { "<4>" } else { "" };
        eprintln!("{p}{}: {msg}", self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            Error::msg("Unknown option -x\nbwrap: \u{1b}[2Jfake").to_string(),
            "Unknown option -x\\nbwrap: \\u{1b}[2Jfake"
        );
        assert_eq!(
            Error::msg("Invalid uid: été").to_string(),
            "Invalid uid: été"
        );
    }
}
