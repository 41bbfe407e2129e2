//! Configuration errors: what `check` and start-up print, one per line, as
//! `file:line:col: field.path: message`.
//!
//! This module owns the error types and the collector that turns byte spans
//! into 1-based lines and columns. It does not decide what is an error; the
//! parsing and validation modules do. Messages never contain secret values.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a configuration file, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file, as the caller named it.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the whole file (e.g. unreadable).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// Path of the offending field, e.g. `route[2].provider` (route indices are
    /// 0-based, in file order); empty for TOML syntax errors and I/O errors.
    pub field: String,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one configuration file, in file order. Display
/// prints one error per line, ready for stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_lines(.errors))]
pub struct ConfigErrors {
    /// The errors, sorted by position.
    pub errors: Vec<ConfigError>,
}

fn display_lines(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl ConfigErrors {
    /// A single error about the file as a whole (it could not be read).
    pub(crate) fn whole_file(file: &Path, message: String) -> Self {
        Self {
            errors: vec![ConfigError {
                file: file.to_path_buf(),
                line: 0,
                column: 0,
                field: String::new(),
                message,
            }],
        }
    }
}

// === impl Diagnostics ===

/// Collects errors and warnings while a file is parsed and validated, so that
/// every problem is reported at once rather than the first one only.
pub(crate) struct Diagnostics<'a> {
    file: &'a Path,
    src: &'a str,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(file: &'a Path, src: &'a str) -> Self {
        Self {
            file,
            src,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records an error at the start of `span` (a byte range in the source).
    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let (line, column) = self.position(span.start);
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records a non-fatal finding for `check` (`field: message`).
    pub(crate) fn warn(&mut self, field: &str, message: impl fmt::Display) {
        self.warnings.push(format!("{field}: {message}"));
    }

    /// Whether any error has been recorded so far.
    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// How many errors have been recorded so far (to tell whether one part
    /// of the file added any).
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// `Err` with every error sorted by position, or the warnings.
    pub(crate) fn finish(self) -> Result<Vec<String>, ConfigErrors> {
        if self.errors.is_empty() {
            return Ok(self.warnings);
        }
        Err(self.into_errors())
    }

    /// The errors so far, sorted by position (for an early stop).
    pub(crate) fn into_errors(mut self) -> ConfigErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        ConfigErrors {
            errors: self.errors,
        }
    }

    /// 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        let d = Diagnostics::new(Path::new("f.toml"), src);
        assert_eq!(d.position(0), (1, 1));
        assert_eq!(d.position(6), (2, 1));
        // after the two-byte 'é'
        assert_eq!(d.position(9), (2, 3));
        assert_eq!(d.position(10_000), (3, 1));
    }

    #[test]
    fn display_forms() {
        let mut d = Diagnostics::new(Path::new("config/app.toml"), "x\n\n  provider = 1");
        d.error(11..12, "route[2].provider", "bad");
        d.error(0..1, "", "syntax");
        let errs = d.finish().unwrap_err();
        assert_eq!(
            errs.to_string(),
            "config/app.toml:1:1: syntax\nconfig/app.toml:3:9: route[2].provider: bad"
        );
        let whole = ConfigErrors::whole_file(Path::new("a.toml"), "cannot read".into());
        assert_eq!(whole.to_string(), "a.toml: cannot read");
    }
}
