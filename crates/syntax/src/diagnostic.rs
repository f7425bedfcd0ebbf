//! Source files, positions and CppNix-style error locations with code frames.

use std::fmt;
use std::sync::Arc;

/// What a piece of source text is called in error messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SourceName {
    /// Standard input, printed as `«stdin»`.
    Stdin,
    /// A `-E` expression or other string, printed as `«string»`.
    String,
    /// A file, printed as its path.
    Path(String),
    /// Anything else, printed as `«name»`.
    Other(String),
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceName::Stdin => f.write_str("«stdin»"),
            SourceName::String => f.write_str("«string»"),
            SourceName::Path(p) => f.write_str(p),
            SourceName::Other(n) => write!(f, "«{n}»"),
        }
    }
}

/// A named source text with a line index, for turning byte offsets into
/// `line:column` and printing code frames.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: SourceName,
    text: Arc<str>,
    line_starts: Arc<[u32]>,
}

impl SourceFile {
    /// Indexes `text` under `name`.
    pub fn new(name: SourceName, text: Arc<str>) -> SourceFile {
        // Lines end at LF, CR LF, or a lone CR (as CppNix counts them).
        let mut starts = vec![0u32];
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let ends_line = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends_line {
                starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            }
        }
        SourceFile {
            name,
            text,
            line_starts: starts.into(),
        }
    }

    /// The file's name.
    pub fn name(&self) -> &SourceName {
        &self.name
    }

    /// The file's text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// 1-based line and column (in bytes) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let col = offset - self.line_starts[line];
        (line as u32 + 1, col + 1)
    }

    /// The text of 1-based line `line` without its newline, if it exists.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(idx)? as usize;
        let end = match self.line_starts.get(idx + 1) {
            Some(&next) => next as usize - 1,
            None => self.text.len(),
        };
        let s = self.text.get(start..end)?;
        Some(s.strip_suffix(['\r', '\n']).unwrap_or(s))
    }

    /// `file:line:col` for a byte offset.
    pub fn position(&self, offset: u32) -> String {
        let (line, col) = self.line_col(offset);
        format!("{}:{}:{}", self.name, line, col)
    }

    /// Writes CppNix's location block for `offset`: the `at file:line:col:`
    /// header (indented by `indent` spaces) followed by the code frame.
    pub fn write_location(&self, out: &mut String, indent: usize, offset: u32) {
        let (line, col) = self.line_col(offset);
        let pad = " ".repeat(indent);
        out.push_str(&format!("{pad}at {}:{}:{}:", self.name, line, col));
        self.write_code_frame(out, indent, line, col);
    }

    /// Writes the previous, current and next line with a caret under `col`.
    pub fn write_code_frame(&self, out: &mut String, indent: usize, line: u32, col: u32) {
        let prefix = " ".repeat(indent);
        let code_line = |n: u32, out: &mut String| {
            if let Some(text) = self.line_text(n) {
                let rendered = format!("\n{prefix} {n:>5}| {text}");
                out.push_str(rendered.trim_end());
            }
        };
        if line > 1 {
            code_line(line - 1, out);
        }
        if self.line_text(line).is_some() {
            code_line(line, out);
            out.push_str(&format!("\n{prefix}      |{}^", " ".repeat(col as usize)));
        }
        code_line(line + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_frame() {
        let f = SourceFile::new(SourceName::Stdin, Arc::from("x: y\n"));
        assert_eq!(f.line_col(3), (1, 4));
        let mut s = String::new();
        f.write_location(&mut s, 7, 3);
        assert_eq!(
            s,
            "       at «stdin»:1:4:\n            1| x: y\n             |    ^\n            2|"
        );
    }

    #[test]
    fn eof_position_has_no_next_line() {
        let f = SourceFile::new(SourceName::Stdin, Arc::from("(\n# no content\n"));
        let (line, col) = f.line_col(15);
        assert_eq!((line, col), (3, 1));
        let mut s = String::new();
        f.write_location(&mut s, 7, 15);
        assert_eq!(
            s,
            "       at «stdin»:3:1:\n            2| # no content\n            3|\n             | ^"
        );
    }
}
