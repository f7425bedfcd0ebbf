//! `builtins.fromJSON`'s reader: strict JSON (RFC 8259) read byte for byte
//! with the rules, positions and error texts of the nlohmann::json parser
//! that CppNix uses, so that what it rejects, and how it says so, match.
//!
//! The reader is iterative (an explicit stack of open arrays and objects), so
//! nesting depth is bounded by memory only, as in CppNix.

use nixkit_syntax::Symbol;

use crate::error::{EvalError, EvalResult};
use crate::source::Pos;
use crate::value::{Attr, Attrs, Value};

/// The tokens of the lexer, with the names nlohmann's messages give them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    None,
    True,
    False,
    Null,
    String,
    Unsigned,
    Integer,
    Float,
    BeginArray,
    BeginObject,
    EndArray,
    EndObject,
    NameSeparator,
    ValueSeparator,
    ParseError,
    EndOfInput,
    LiteralOrValue,
}

impl Token {
    fn name(self) -> &'static str {
        match self {
            Token::None => "<uninitialized>",
            Token::True => "true literal",
            Token::False => "false literal",
            Token::Null => "null literal",
            Token::String => "string literal",
            Token::Unsigned | Token::Integer | Token::Float => "number literal",
            Token::BeginArray => "'['",
            Token::BeginObject => "'{'",
            Token::EndArray => "']'",
            Token::EndObject => "'}'",
            Token::NameSeparator => "':'",
            Token::ValueSeparator => "','",
            Token::ParseError => "<parse error>",
            Token::EndOfInput => "end of input",
            Token::LiteralOrValue => "'[', '{', or a literal",
        }
    }
}

/// Names of the control characters, for "control character ... must be escaped".
const CONTROL_NAMES: [&str; 32] = [
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
    "FS", "GS", "RS", "US",
];

struct Lexer<'a> {
    input: &'a [u8],
    next: usize,
    /// The byte last read; `None` at the end of the input.
    current: Option<u8>,
    /// The next `get` returns `current` again.
    ungot: bool,
    chars_total: usize,
    line_chars: usize,
    lines: usize,
    /// Where the bytes read since the last string or number started begin
    /// (nlohmann's "last read": they run to what was read last).
    token_start: usize,
    /// The decoded text of the last string or number token.
    buffer: Vec<u8>,
    error_message: String,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            next: 0,
            current: None,
            ungot: false,
            chars_total: 0,
            line_chars: 0,
            lines: 0,
            token_start: 0,
            buffer: Vec::new(),
            error_message: String::new(),
        }
    }

    fn get(&mut self) -> Option<u8> {
        self.chars_total += 1;
        self.line_chars += 1;
        if self.ungot {
            self.ungot = false;
        } else {
            self.current = self.input.get(self.next).copied();
            if self.current.is_some() {
                self.next += 1;
            }
        }
        if self.current == Some(b'\n') {
            self.lines += 1;
            self.line_chars = 0;
        }
        self.current
    }

    fn unget(&mut self) {
        self.ungot = true;
        self.chars_total -= 1;
        if self.line_chars == 0 {
            self.lines = self.lines.saturating_sub(1);
        } else {
            self.line_chars -= 1;
        }
    }

    /// Starts a string or number token at the current byte.
    fn reset(&mut self) {
        self.buffer.clear();
        self.token_start = self.next - usize::from(self.current.is_some());
    }

    fn fail(&mut self, message: impl Into<String>) -> Token {
        self.error_message = message.into();
        Token::ParseError
    }

    /// The bytes read for the current token, control characters spelled `<U+XXXX>`.
    fn token_text(&self) -> String {
        let read = self.next - usize::from(self.ungot && self.current.is_some());
        let token = self.input.get(self.token_start..read).unwrap_or_default();
        let mut out = Vec::with_capacity(token.len());
        for &b in token {
            if b <= 0x1f {
                out.extend_from_slice(format!("<U+{b:04X}>").as_bytes());
            } else {
                out.push(b);
            }
        }
        nixkit_syntax::decode_bytes(&out).into_owned()
    }

    fn scan(&mut self) -> Token {
        if self.chars_total == 0 && !self.skip_bom() {
            return self.fail("invalid BOM; must be 0xEF 0xBB 0xBF if given");
        }
        self.skip_whitespace_run();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.get() {}
        match self.current {
            Some(b'[') => Token::BeginArray,
            Some(b']') => Token::EndArray,
            Some(b'{') => Token::BeginObject,
            Some(b'}') => Token::EndObject,
            Some(b':') => Token::NameSeparator,
            Some(b',') => Token::ValueSeparator,
            Some(b't') => self.scan_literal(b"true", Token::True),
            Some(b'f') => self.scan_literal(b"false", Token::False),
            Some(b'n') => self.scan_literal(b"null", Token::Null),
            Some(b'"') => self.scan_string(),
            Some(b'-' | b'0'..=b'9') => self.scan_number(),
            None | Some(0) => Token::EndOfInput,
            Some(_) => self.fail("invalid literal"),
        }
    }

    fn skip_bom(&mut self) -> bool {
        if self.get() == Some(0xef) {
            self.get() == Some(0xbb) && self.get() == Some(0xbf)
        } else {
            self.unget();
            true
        }
    }

    fn scan_literal(&mut self, text: &[u8], token: Token) -> Token {
        for &expected in &text[1..] {
            if self.get() != Some(expected) {
                return self.fail("invalid literal");
            }
        }
        token
    }

    /// Reads four hex digits after `\u`; `None` if one is not a hex digit.
    fn code_unit(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = (self.get()? as char).to_digit(16)?;
            value = value * 16 + digit;
        }
        Some(value)
    }

    /// Skips the whitespace that follows at once, counting lines as `get`
    /// does (the last byte is left to `get`, so that `current` is right).
    fn skip_whitespace_run(&mut self) {
        if self.ungot {
            return;
        }
        let rest = &self.input[self.next..];
        let run = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count()
            .saturating_sub(1);
        for &b in &rest[..run] {
            if b == b'\n' {
                self.lines += 1;
                self.line_chars = 0;
            } else {
                self.line_chars += 1;
            }
        }
        self.next += run;
        self.chars_total += run;
    }

    /// Takes the digits that follow at once into the number's text.
    fn digit_run(&mut self) {
        if self.ungot {
            return;
        }
        let rest = &self.input[self.next..];
        let run = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 {
            return;
        }
        let digits = &rest[..run];
        self.buffer.extend_from_slice(digits);
        self.current = digits.last().copied();
        self.next += run;
        self.chars_total += run;
        self.line_chars += run;
    }

    /// Takes the run of printable ASCII bytes (no quote, no backslash) that
    /// follows, at once: what `get` would do byte by byte.
    fn plain_run(&mut self) {
        if self.ungot {
            return;
        }
        let rest = &self.input[self.next..];
        let run = rest
            .iter()
            .take_while(|&&b| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\')
            .count();
        if run == 0 {
            return;
        }
        let bytes = &rest[..run];
        self.buffer.extend_from_slice(bytes);
        self.current = bytes.last().copied();
        self.next += run;
        self.chars_total += run;
        self.line_chars += run;
    }

    fn scan_string(&mut self) -> Token {
        self.reset();
        loop {
            self.plain_run();
            let Some(c) = self.get() else {
                return self.fail("invalid string: missing closing quote");
            };
            match c {
                b'"' => return Token::String,
                b'\\' => {
                    if let Err(message) = self.escape() {
                        return self.fail(message);
                    }
                }
                0x00..=0x1f => {
                    let name = CONTROL_NAMES[usize::from(c)];
                    let short = match c {
                        0x08 => " or \\b",
                        0x09 => " or \\t",
                        0x0a => " or \\n",
                        0x0c => " or \\f",
                        0x0d => " or \\r",
                        _ => "",
                    };
                    return self.fail(format!(
                        "invalid string: control character U+{c:04X} ({name}) must be escaped to \\u{c:04X}{short}"
                    ));
                }
                0x20..=0x7f => self.buffer.push(c),
                _ => {
                    if !self.utf8_sequence(c) {
                        return self.fail("invalid string: ill-formed UTF-8 byte");
                    }
                }
            }
        }
    }

    /// Reads the rest of a multi-byte UTF-8 sequence that starts with `lead`
    /// (RFC 3629's well-formed ranges: no overlongs, surrogates or values
    /// beyond U+10FFFF).
    fn utf8_sequence(&mut self, lead: u8) -> bool {
        let ranges: &[(u8, u8)] = match lead {
            0xc2..=0xdf => &[(0x80, 0xbf)],
            0xe0 => &[(0xa0, 0xbf), (0x80, 0xbf)],
            0xe1..=0xec | 0xee..=0xef => &[(0x80, 0xbf), (0x80, 0xbf)],
            0xed => &[(0x80, 0x9f), (0x80, 0xbf)],
            0xf0 => &[(0x90, 0xbf), (0x80, 0xbf), (0x80, 0xbf)],
            0xf1..=0xf3 => &[(0x80, 0xbf), (0x80, 0xbf), (0x80, 0xbf)],
            0xf4 => &[(0x80, 0x8f), (0x80, 0xbf), (0x80, 0xbf)],
            _ => return false,
        };
        self.buffer.push(lead);
        for &(low, high) in ranges {
            match self.get() {
                Some(b) if (low..=high).contains(&b) => self.buffer.push(b),
                _ => return false,
            }
        }
        true
    }

    /// Reads an escape after a backslash into the buffer.
    fn escape(&mut self) -> Result<(), &'static str> {
        const HEX: &str = "invalid string: '\\u' must be followed by 4 hex digits";
        let decoded = match self.get() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let first = self.code_unit().ok_or(HEX)?;
                let code_point = match first {
                    0xd800..=0xdbff => {
                        const UNPAIRED: &str = "invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF";
                        if self.get() != Some(b'\\') || self.get() != Some(b'u') {
                            return Err(UNPAIRED);
                        }
                        let second = self.code_unit().ok_or(HEX)?;
                        if !(0xdc00..=0xdfff).contains(&second) {
                            return Err(UNPAIRED);
                        }
                        0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                    }
                    0xdc00..=0xdfff => {
                        return Err(
                            "invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF",
                        )
                    }
                    _ => first,
                };
                let c = char::from_u32(code_point).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut utf8 = [0u8; 4];
                self.buffer
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                return Ok(());
            }
            _ => return Err("invalid string: forbidden character after backslash"),
        };
        self.buffer.push(decoded);
        Ok(())
    }

    fn scan_number(&mut self) -> Token {
        self.reset();
        let mut token = Token::Unsigned;
        let mut c = self.current;
        if c == Some(b'-') {
            token = Token::Integer;
            self.buffer.push(b'-');
            c = self.get();
            if !matches!(c, Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected digit after '-'");
            }
        }
        // Integer part: a single zero, or digits not starting with zero.
        let leading_zero = c == Some(b'0');
        self.buffer.extend(c);
        if leading_zero {
            c = self.get();
        } else {
            self.digit_run();
            c = self.get();
        }
        if c == Some(b'.') {
            token = Token::Float;
            self.buffer.push(b'.');
            c = self.get();
            if !matches!(c, Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected digit after '.'");
            }
            while let Some(d @ b'0'..=b'9') = c {
                self.buffer.push(d);
                c = self.get();
            }
        }
        if let Some(e @ (b'e' | b'E')) = c {
            token = Token::Float;
            self.buffer.push(e);
            c = self.get();
            if let Some(sign @ (b'+' | b'-')) = c {
                self.buffer.push(sign);
                c = self.get();
                if !matches!(c, Some(b'0'..=b'9')) {
                    return self.fail("invalid number; expected digit after exponent sign");
                }
            } else if !matches!(c, Some(b'0'..=b'9')) {
                return self.fail("invalid number; expected '+', '-', or digit after exponent");
            }
            while let Some(d @ b'0'..=b'9') = c {
                self.buffer.push(d);
                c = self.get();
            }
        }
        self.unget();
        token
    }

    fn buffer_text(&self) -> &str {
        std::str::from_utf8(&self.buffer).unwrap_or("")
    }
}

/// An array or object being read.
enum Open {
    Array(Vec<Value>),
    Object(Vec<Attr>, Symbol),
}

struct Reader<'a> {
    lexer: Lexer<'a>,
    last: Token,
}

impl Reader<'_> {
    fn next_token(&mut self) -> Token {
        self.last = self.lexer.scan();
        self.last
    }

    /// nlohmann's "syntax error while parsing CONTEXT - ..." message.
    fn syntax_error(&self, expected: Token, context: &str) -> EvalError {
        let mut message = format!("syntax error while parsing {context} - ");
        if self.last == Token::ParseError {
            message.push_str(&self.lexer.error_message);
            message.push_str("; last read: '");
            message.push_str(&self.lexer.token_text());
            message.push('\'');
        } else {
            message.push_str("unexpected ");
            message.push_str(self.last.name());
        }
        if expected != Token::None {
            message.push_str("; expected ");
            message.push_str(expected.name());
        }
        EvalError::eval(format!(
            "[json.exception.parse_error.101] parse error at line {}, column {}: {message}",
            self.lexer.lines + 1,
            self.lexer.line_chars
        ))
    }

    fn string_value(&self) -> EvalResult<String> {
        // The buffer is well-formed UTF-8; its characters in the range
        // nixkit uses for bytes that are not UTF-8 (U+10FF80..U+10FFFF,
        // `nixkit_syntax::decode_bytes`) are written as their four bytes.
        let text = nixkit_syntax::decode_bytes(self.lexer.buffer_text().as_bytes()).into_owned();
        crate::builtins::check_no_nul(&text).map_err(EvalError::eval)?;
        Ok(text)
    }

    /// Reads an object key and its `:`, after the key's token was scanned.
    fn key(&mut self) -> EvalResult<Symbol> {
        if self.last != Token::String {
            return Err(self.syntax_error(Token::String, "object key"));
        }
        let key = Symbol::intern(&self.string_value()?);
        if self.next_token() != Token::NameSeparator {
            return Err(self.syntax_error(Token::NameSeparator, "object separator"));
        }
        Ok(key)
    }

    /// Reads one value whose first token was scanned; `None` when it opened
    /// an array or object (pushed onto `stack`; the token scanned last is
    /// then the first of its first value).
    fn scalar_or_open(&mut self, stack: &mut Vec<Open>) -> EvalResult<Option<Value>> {
        let value = match self.last {
            Token::BeginObject => {
                if self.next_token() == Token::EndObject {
                    return Ok(Some(Value::attrs(Attrs::new())));
                }
                let key = self.key()?;
                stack.push(Open::Object(Vec::new(), key));
                self.next_token();
                return Ok(None);
            }
            Token::BeginArray => {
                if self.next_token() == Token::EndArray {
                    return Ok(Some(Value::list(Vec::new())));
                }
                stack.push(Open::Array(Vec::new()));
                return Ok(None);
            }
            Token::Null => Value::Null,
            Token::True => Value::Bool(true),
            Token::False => Value::Bool(false),
            Token::String => Value::string(self.string_value()?),
            Token::Unsigned => match self.lexer.buffer_text().parse::<u64>() {
                Ok(u) => match i64::try_from(u) {
                    Ok(i) => Value::Int(i),
                    Err(_) => {
                        return Err(EvalError::eval(format!(
                            "unsigned json number {u} outside of Nix integer range"
                        )))
                    }
                },
                Err(_) => self.float()?,
            },
            Token::Integer => match self.lexer.buffer_text().parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => self.float()?,
            },
            Token::Float => self.float()?,
            Token::ParseError => return Err(self.syntax_error(Token::None, "value")),
            _ => return Err(self.syntax_error(Token::LiteralOrValue, "value")),
        };
        Ok(Some(value))
    }

    fn float(&self) -> EvalResult<Value> {
        let f = self.lexer.buffer_text().parse::<f64>().unwrap_or(f64::NAN);
        if !f.is_finite() {
            return Err(EvalError::eval(format!(
                "[json.exception.out_of_range.406] number overflow parsing '{}'",
                self.lexer.token_text()
            )));
        }
        Ok(Value::Float(f))
    }

    fn document(&mut self) -> EvalResult<Value> {
        let mut stack: Vec<Open> = Vec::new();
        self.next_token();
        'value: loop {
            let Some(mut value) = self.scalar_or_open(&mut stack)? else {
                continue 'value;
            };
            // A value is complete: add it to the innermost open array or
            // object, closing those that end here.
            loop {
                match stack.last_mut() {
                    None => {
                        if self.next_token() != Token::EndOfInput {
                            return Err(self.syntax_error(Token::EndOfInput, "value"));
                        }
                        return Ok(value);
                    }
                    Some(Open::Array(items)) => {
                        items.push(value);
                        match self.next_token() {
                            Token::ValueSeparator => {
                                self.next_token();
                                continue 'value;
                            }
                            Token::EndArray => {}
                            _ => return Err(self.syntax_error(Token::EndArray, "array")),
                        }
                    }
                    Some(Open::Object(entries, key)) => {
                        entries.push(Attr {
                            name: *key,
                            value,
                            pos: Pos::NONE,
                        });
                        match self.next_token() {
                            Token::ValueSeparator => {
                                self.next_token();
                                let next_key = self.key()?;
                                if let Some(Open::Object(_, key)) = stack.last_mut() {
                                    *key = next_key;
                                }
                                self.next_token();
                                continue 'value;
                            }
                            Token::EndObject => {}
                            _ => return Err(self.syntax_error(Token::EndObject, "object")),
                        }
                    }
                }
                value = match stack.pop() {
                    Some(Open::Array(items)) => Value::list(items),
                    Some(Open::Object(entries, _)) => Value::attrs(Attrs::from_unsorted(entries)),
                    None => return Err(EvalError::eval("JSON reader lost its place")),
                };
            }
        }
    }
}

/// Parses a JSON text (the bytes of a Nix string) into a value.
pub(crate) fn parse_json_bytes(text: &[u8]) -> EvalResult<Value> {
    let mut reader = Reader {
        lexer: Lexer::new(text),
        last: Token::None,
    };
    reader.document()
}
