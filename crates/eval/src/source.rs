//! Source positions: a process-wide table of evaluated source texts and the
//! compact [`Pos`] stored in compiled code and attributes.
//!
//! The table is append-only and shared by all evaluators, like the symbol
//! table; it is only locked to register a file and to resolve a position for
//! an error message or `unsafeGetAttrPos`, never on hot paths.
//!
//! A [`Pos`] is one `u32` (as CppNix's `PosIdx`): every registered text
//! gets a range of one address space (its length plus one), so a position
//! is the text's base plus a byte offset, and an attribute carries 4 bytes
//! of position instead of 8. The space holds 4 GiB of source per process;
//! texts registered beyond that get no positions (errors then show no
//! location) rather than wrong ones.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use nixkit_syntax::{SourceFile, SourceName};

/// Where a source text came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    text: Arc<str>,
    /// The text's line index (lines end at LF, CR LF or a lone CR, as
    /// CppNix counts them), made when a position in it is first resolved.
    lines: OnceLock<SourceFile>,
}

impl SourceText {
    fn file(&self) -> &SourceFile {
        self.lines.get_or_init(|| {
            let name = match &self.origin {
                Origin::File(p) => SourceName::Path(p.to_string()),
                Origin::String => SourceName::String,
                Origin::Stdin => SourceName::Stdin,
            };
            SourceFile::new(name, self.text.clone())
        })
    }
}

/// A registered text: a file's, shared, or an expression's, in
/// [`Table::inline`].
enum Entry {
    File(Arc<SourceText>),
    Inline { stdin: bool, start: u32, len: u32 },
}

impl Entry {
    fn text<'a>(&'a self, t: &'a Table) -> &'a str {
        match self {
            Entry::File(f) => &f.text,
            Entry::Inline { start, len, .. } => {
                let (start, len) = (*start as usize, *len as usize);
                t.inline.get(start..start + len).unwrap_or("")
            }
        }
    }

    fn origin(&self) -> Origin {
        match self {
            Entry::File(f) => f.origin.clone(),
            Entry::Inline { stdin: true, .. } => Origin::Stdin,
            Entry::Inline { stdin: false, .. } => Origin::String,
        }
    }
}

/// The registered texts in the order of their (increasing) bases, and the
/// next free base.
struct Table {
    texts: Vec<(u32, Entry)>,
    /// The texts of `«string»` and `«stdin»` sources, one after another: an
    /// embedder evaluating many fresh expressions keeps each text (as CppNix
    /// does) but nothing else per text beyond one entry.
    inline: String,
    next_base: u32,
    /// Indexes into `texts` by a hash of origin and text: the same file
    /// parsed again (by a fresh evaluator of a long-running embedder, say)
    /// reuses its entry instead of growing the table without bound.
    /// (A second text with the same hash is not indexed: it is only not
    /// shared.)
    by_content: std::collections::HashMap<u64, u32>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        Mutex::new(Table {
            texts: Vec::new(),
            inline: String::new(),
            next_base: 1,
            by_content: std::collections::HashMap::new(),
        })
    })
}

/// Identifies a registered source text (its base in the position space);
/// 0 means "no positions".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileId(u32);

/// A position: a byte offset in a registered source text, as one number
/// (see the module documentation); 0 is "no position".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Pos(u32);

impl Pos {
    /// No position.
    pub const NONE: Pos = Pos(0);

    /// The position `offset` bytes into `file`.
    #[inline]
    pub fn new(file: FileId, offset: u32) -> Pos {
        if file.0 == 0 {
            return Pos::NONE;
        }
        Pos(file.0.checked_add(offset).unwrap_or(0))
    }

    /// Whether this position is unknown.
    pub fn is_none(self) -> bool {
        self.0 == 0
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
    let len = text.len();
    let key = {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::quality::FixedState::default().build_hasher();
        origin.hash(&mut h);
        text.hash(&mut h);
        h.finish()
    };
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    let indexed = t
        .by_content
        .get(&key)
        .and_then(|&i| t.texts.get(i as usize));
    if let Some((base, known)) = indexed {
        if known.origin() == origin && known.text(&t) == &*text {
            return FileId(*base);
        }
    }
    let unindexed = indexed.is_none();
    let base = t.next_base;
    // The text takes `len + 1` addresses (a position may point just past
    // the end). Out of space: the text gets no positions.
    let Some(next) = u32::try_from(len)
        .ok()
        .and_then(|l| base.checked_add(l))
        .and_then(|e| e.checked_add(1))
    else {
        return FileId(0);
    };
    t.next_base = next;
    let index = t.texts.len();
    let entry = match origin {
        Origin::File(_) => Entry::File(Arc::new(SourceText {
            origin,
            text,
            lines: OnceLock::new(),
        })),
        Origin::String | Origin::Stdin => {
            // `len` fits in u32 (checked above), and so does the buffer:
            // its texts take less than the position space.
            let start = u32::try_from(t.inline.len()).unwrap_or(u32::MAX);
            t.inline.push_str(&text);
            Entry::Inline {
                stdin: origin == Origin::Stdin,
                start,
                len: len as u32,
            }
        }
    };
    t.texts.push((base, entry));
    if unindexed {
        t.by_content
            .insert(key, u32::try_from(index).unwrap_or(u32::MAX));
    }
    FileId(base)
}

/// The text a position is in and the offset in it.
fn get(pos: Pos) -> Option<(Arc<SourceText>, u32)> {
    if pos.0 == 0 {
        return None;
    }
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    let i = t
        .texts
        .partition_point(|(base, _)| *base <= pos.0)
        .checked_sub(1)?;
    let (base, entry) = &t.texts[i];
    let src = match entry {
        Entry::File(f) => f.clone(),
        Entry::Inline { .. } => Arc::new(SourceText {
            origin: entry.origin(),
            text: entry.text(&t).into(),
            lines: OnceLock::new(),
        }),
    };
    Some((src, pos.0 - base))
}

/// Resolves a position to line and column.
pub(crate) fn locate(pos: Pos) -> Option<Location> {
    let (src, offset) = get(pos)?;
    let (line, column) = line_col(&src, offset);
    Some(Location {
        origin: src.origin.clone(),
        line,
        column,
    })
}

fn line_col(src: &SourceText, offset: u32) -> (u32, u32) {
    src.file().line_col(offset)
}

/// Writes a position as CppNix prints it under an error, without
/// indentation: `at file:line:col:`, the code frame, and a newline. Nothing
/// for an unknown position.
pub(crate) fn write_pos(pos: Pos, out: &mut String) {
    let Some((src, offset)) = get(pos) else {
        return;
    };
    let (line, column) = line_col(&src, offset);
    let _ = write!(out, "at {}:{line}:{column}:", src.origin.display());
    let show = |out: &mut String, n: u32| {
        if let Some(text) = src.file().line_text(n) {
            let _ = write!(out, "\n {n:>5}| {text}");
        }
    };
    if line > 1 {
        show(out, line - 1);
    }
    show(out, line);
    let _ = write!(out, "\n      |{}^", " ".repeat(column as usize));
    if src.file().line_text(line + 1).is_some() {
        show(out, line + 1);
    }
    out.push('\n');
}

/// Renders `at file:line:col:` and the code frame, each line prefixed by
/// `indent`, with the code frame's line numbers indented by
/// `frame_indent` (CppNix indents warnings' frames further than errors').
pub(crate) fn render_location_with(pos: Pos, indent: &str, frame_indent: &str, out: &mut String) {
    let Some((src, offset)) = get(pos) else {
        return;
    };
    let (line, column) = line_col(&src, offset);
    let _ = writeln!(out, "{indent}at {}:{line}:{column}:", src.origin.display());
    let width_indent = frame_indent;
    let show = |out: &mut String, n: u32| {
        if let Some(text) = src.file().line_text(n) {
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
    let _ = writeln!(
        out,
        "{width_indent}{:>6}| {}^",
        "",
        " ".repeat(column as usize - 1)
    );
    if src.file().line_text(line + 1).is_some() {
        show(out, line + 1);
    }
}
