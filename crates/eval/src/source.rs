//! Source positions: a process-wide table of evaluated source texts and the
//! compact [`Pos`] (file id + byte offset) stored in compiled code and attributes.
//!
//! The table is append-only and shared by all evaluators, like the symbol
//! table; it is only locked to register a file and to resolve a position for
//! an error message or `unsafeGetAttrPos`, never on hot paths.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use nixkit_syntax::{SourceFile, SourceName};

/// Where a source text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file at this absolute path.
    File(Arc<str>),
    /// `-E` / `eval_str` input.
    String,
    /// Standard input.
    Stdin,
}

impl Origin {
    /// As CppNix prints it in locations.
    pub fn display(&self) -> String {
        match self {
            Origin::File(p) => p.to_string(),
            Origin::String => "«string»".to_string(),
            Origin::Stdin => "«stdin»".to_string(),
        }
    }
}

struct SourceText {
    origin: Origin,
    /// The text and its line index (lines end at LF, CR LF or a lone CR,
    /// as CppNix counts them).
    file: SourceFile,
}

fn table() -> &'static Mutex<Vec<Arc<SourceText>>> {
    static TABLE: OnceLock<Mutex<Vec<Arc<SourceText>>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Identifies a registered source text; 0 means "no position".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileId(u32);

/// A position: a source text and a byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    /// The source.
    pub file: FileId,
    /// Byte offset.
    pub offset: u32,
}

impl Pos {
    /// No position.
    pub const NONE: Pos = Pos { file: FileId(0), offset: 0 };

    /// Whether this position is unknown.
    pub fn is_none(self) -> bool {
        self.file.0 == 0
    }
}

/// A resolved position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The source's origin.
    pub origin: Origin,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in bytes, as CppNix counts).
    pub column: u32,
}

/// Registers a source text and returns its id.
pub(crate) fn register(origin: Origin, text: Arc<str>) -> FileId {
    let name = match &origin {
        Origin::File(p) => SourceName::Path(p.to_string()),
        Origin::String => SourceName::String,
        Origin::Stdin => SourceName::Stdin,
    };
    let file = SourceFile::new(name, text);
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    t.push(Arc::new(SourceText { origin, file }));
    FileId(u32::try_from(t.len()).unwrap_or(u32::MAX))
}

fn get(file: FileId) -> Option<Arc<SourceText>> {
    if file.0 == 0 {
        return None;
    }
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    t.get(file.0 as usize - 1).cloned()
}

/// Resolves a position to line and column.
pub(crate) fn locate(pos: Pos) -> Option<Location> {
    let src = get(pos.file)?;
    let (line, column) = line_col(&src, pos.offset);
    Some(Location { origin: src.origin.clone(), line, column })
}

fn line_col(src: &SourceText, offset: u32) -> (u32, u32) {
    src.file.line_col(offset)
}

/// Writes a position as CppNix prints it under an error, without
/// indentation: `at file:line:col:`, the code frame, and a newline. Nothing
/// for an unknown position.
pub(crate) fn write_pos(pos: Pos, out: &mut String) {
    let Some(src) = get(pos.file) else { return };
    let (line, column) = line_col(&src, pos.offset);
    let _ = write!(out, "at {}:{line}:{column}:", src.origin.display());
    let show = |out: &mut String, n: u32| {
        if let Some(text) = src.file.line_text(n) {
            let _ = write!(out, "\n {n:>5}| {text}");
        }
    };
    if line > 1 {
        show(out, line - 1);
    }
    show(out, line);
    let _ = write!(out, "\n      |{}^", " ".repeat(column as usize));
    if src.file.line_text(line + 1).is_some() {
        show(out, line + 1);
    }
    out.push('\n');
}

/// Renders `at file:line:col:` and the code frame, each line prefixed by
/// `indent`, with the code frame's line numbers indented by
/// `frame_indent` (CppNix indents warnings' frames further than errors').
pub(crate) fn render_location_with(pos: Pos, indent: &str, frame_indent: &str, out: &mut String) {
    let Some(src) = get(pos.file) else { return };
    let (line, column) = line_col(&src, pos.offset);
    let _ = writeln!(out, "{indent}at {}:{line}:{column}:", src.origin.display());
    let width_indent = frame_indent;
    let show = |out: &mut String, n: u32| {
        if let Some(text) = src.file.line_text(n) {
            if text.is_empty() {
                let _ = writeln!(out, "{width_indent}{n:>6}|");
            } else {
                let _ = writeln!(out, "{width_indent}{n:>6}| {text}");
            }
        }
    };
    if line > 1 {
        show(out, line - 1);
    }
    show(out, line);
    let _ = writeln!(out, "{width_indent}{:>6}| {}^", "", " ".repeat(column as usize - 1));
    if src.file.line_text(line + 1).is_some() {
        show(out, line + 1);
    }
}
