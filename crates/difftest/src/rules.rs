//! The rules that decide what is compared: classes of known differences
//! between CppNix 2.8 (the oracle that is installed) and modern CppNix, which
//! are excluded by rule, and classes of known nixkit divergences whose fixes
//! are pending, which the generator leaves out until they are removed from the
//! pending list.

use std::fmt;
use std::str::FromStr;

/// A known difference between CppNix 2.8 and modern CppNix. Each is excluded
/// by a rule, never case by case; [`ModernDifference::rule`] says how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModernDifference {
    /// How deep recursion ends (2.8: C stack overflow or its own depth
    /// limit; modern: `max-call-depth`).
    CallDepth,
    /// Modern CppNix's `map` and `genList` force their function argument
    /// even when it is never called (`map (throw "x") [ ]`).
    MapGenListForcing,
    /// `toJSON` prints floats with 6 significant digits in 2.8 and with full
    /// precision in modern CppNix.
    ToJsonFloats,
    /// Integer overflow wraps around in 2.8 and is an error in modern CppNix
    /// (also `floor`/`ceil` of a float beyond the integers); 2.8 truncates
    /// `substring`'s start and length to 32 bits.
    IntegerOverflow,
    /// Builtins added after 2.8.
    NewerBuiltins,
    /// Functions print as `<LAMBDA>`/`<PRIMOP>`/`<PRIMOP-APP>` in 2.8 and as
    /// `«lambda @ …»`/`«primop …»`/`«partially applied primop …»` in modern CppNix.
    FunctionPrinting,
    /// `nix-instantiate --eval` auto-calls a top-level function with formals in
    /// 2.8; modern CppNix only with `--arg`/`--argstr` (issue 21, class 7).
    TopLevelAutoCall,
    /// Error messages were reworded between versions.
    ErrorWording,
    /// 2.8's `replaceStrings` forces every replacement string; modern
    /// CppNix only those it uses.
    ReplaceStringsLazyTo,
    /// Modern CppNix evaluates the right operand of `//` first (a chain is
    /// merged right to left, `ExprOpUpdate::evalForUpdate`); 2.8 the left.
    UpdateOperandOrder,
}

impl ModernDifference {
    /// Every known difference.
    pub const ALL: [ModernDifference; 10] = [
        ModernDifference::CallDepth,
        ModernDifference::MapGenListForcing,
        ModernDifference::ToJsonFloats,
        ModernDifference::IntegerOverflow,
        ModernDifference::NewerBuiltins,
        ModernDifference::FunctionPrinting,
        ModernDifference::TopLevelAutoCall,
        ModernDifference::ErrorWording,
        ModernDifference::ReplaceStringsLazyTo,
        ModernDifference::UpdateOperandOrder,
    ];

    /// How the difference is excluded.
    pub fn rule(self) -> &'static str {
        match self {
            ModernDifference::CallDepth => {
                "the generator writes no unbounded recursion; an outcome where either side \
                 reports a stack overflow or call-depth limit is not compared"
            }
            ModernDifference::MapGenListForcing => {
                "the function argument of `map` and `genList` is always a function literal \
                 (never an error, never a non-function)"
            }
            ModernDifference::ToJsonFloats => {
                "the argument of `toJSON` is generated from types without floats"
            }
            ModernDifference::IntegerOverflow => {
                "nixkit's integer-overflow error (or float-to-integer overflow) against any \
                 CppNix 2.8 outcome is not a divergence (2.8 went on with a wrapped value); \
                 `substring`'s numeric arguments are small literals"
            }
            ModernDifference::NewerBuiltins => {
                "the generator only calls builtins that `builtins.attrNames builtins` lists in \
                 the oracle"
            }
            ModernDifference::FunctionPrinting => {
                "both outputs have function placeholders normalised to `<LAMBDA>`/`<PRIMOP>`/\
                 `<PRIMOP-APP>` before comparing"
            }
            ModernDifference::TopLevelAutoCall => {
                "every evaluated expression is a list, never a top-level function"
            }
            ModernDifference::ErrorWording => {
                "errors are compared by class (throw, abort, assertion, type, missing \
                 attribute, ...), not by message"
            }
            ModernDifference::ReplaceStringsLazyTo => {
                "the replacement list of `replaceStrings` is a literal list of strings"
            }
            ModernDifference::UpdateOperandOrder => {
                "the right operand of `//` is a literal set, so only the left one can fail"
            }
        }
    }
}

/// A class of known nixkit divergences that another change is fixing. While a
/// class is pending, the generator does not produce expressions of it (so the
/// CI run stays green); removing it from the pending list makes the fuzzer
/// check it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PendingFix {
    /// Strings are byte strings (issue 21, class 1): non-ASCII text in
    /// literals, sliced and measured by the string builtins.
    ByteStrings,
    /// POSIX extended regular expressions (class 2): `match` and `split`.
    Regex,
    /// Strict `fromJSON` (class 3): JSON texts, valid and invalid.
    FromJson,
    /// `eqValues` equality and identity (class 4): `==`, `elem` and list
    /// comparison on values holding functions or errors.
    Equality,
    /// `toXML` output (class 5).
    ToXml,
    /// `«repeated»` when printing a value met before (class 6): cycles and
    /// shared sets and lists. While pending, the generator writes no
    /// self-referential sets and two printed values that differ where one has
    /// `«repeated»` count as agreement.
    PrintCycles,
    /// Lexer whitespace (class 8): no-break space, vertical tab, form feed and
    /// zero-width space between tokens.
    LexerWhitespace,
    /// Found by this fuzzer, not yet being fixed: CppNix's arithmetic
    /// operators and `div`/`sub`/`mul` force both operands, left first, before
    /// checking either's type or a zero divisor, and `//` evaluates and checks
    /// its left operand before the right; nixkit checks one operand (or the
    /// divisor) before forcing the other. While pending, the right operand
    /// is a (non-zero) literal.
    OperandOrder,
    /// Found by this fuzzer, not yet being fixed: CppNix's `partition` forces
    /// each list element before calling the predicate on it. While pending,
    /// `partition`'s list is a literal.
    ListElementForcing,
    /// Found by this fuzzer, not yet being fixed: `compareVersions` reads a
    /// numeric component as a number only if it fits in a 32-bit `int`
    /// (`"1099511627776"` compares as text). While pending, its arguments
    /// are version literals.
    VersionComponents,
    /// Found by this fuzzer: when several attributes of a set fail,
    /// CppNix's deep forcing (`--strict`, `deepSeq`) reports the error of
    /// the attribute whose name was interned first (its sets are ordered by
    /// symbol number). nixkit's sets are ordered the same way; the
    /// divergences came from evaluating in-process after other expressions
    /// had interned names first, so errors are now confirmed in a fresh
    /// process ([`crate::Campaign::fresh_nixkit`]). While pending, two
    /// errors of different classes count as agreement if the expression,
    /// shrunk, still needs two or more attributes of sets; otherwise they are
    /// a divergence.
    AttrForceOrder,
}

impl PendingFix {
    /// Every class.
    pub const ALL: [PendingFix; 11] = [
        PendingFix::ByteStrings,
        PendingFix::Regex,
        PendingFix::FromJson,
        PendingFix::Equality,
        PendingFix::ToXml,
        PendingFix::PrintCycles,
        PendingFix::LexerWhitespace,
        PendingFix::OperandOrder,
        PendingFix::ListElementForcing,
        PendingFix::VersionComponents,
        PendingFix::AttrForceOrder,
    ];

    /// The class's name in pending lists (`pending-fix: byte-strings`).
    pub fn name(self) -> &'static str {
        match self {
            PendingFix::ByteStrings => "byte-strings",
            PendingFix::Regex => "regex",
            PendingFix::FromJson => "from-json",
            PendingFix::Equality => "equality",
            PendingFix::ToXml => "to-xml",
            PendingFix::PrintCycles => "print-cycles",
            PendingFix::LexerWhitespace => "lexer-whitespace",
            PendingFix::OperandOrder => "operand-order",
            PendingFix::ListElementForcing => "list-element-forcing",
            PendingFix::VersionComponents => "version-components",
            PendingFix::AttrForceOrder => "attr-force-order",
        }
    }
}

impl fmt::Display for PendingFix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A pending-fix name that is not known.
#[derive(Debug, thiserror::Error)]
#[error("unknown pending-fix class '{0}' (known: byte-strings, regex, from-json, equality, to-xml, print-cycles, lexer-whitespace, operand-order, list-element-forcing, version-components, attr-force-order)")]
pub struct UnknownPendingFix(pub String);

impl FromStr for PendingFix {
    type Err = UnknownPendingFix;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PendingFix::ALL
            .into_iter()
            .find(|p| p.name() == s.trim())
            .ok_or_else(|| UnknownPendingFix(s.to_string()))
    }
}

/// Reads a pending list: one `pending-fix: NAME` per line; `#` comments and
/// blank lines are ignored.
pub fn parse_pending_list(text: &str) -> Result<Vec<PendingFix>, UnknownPendingFix> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let name = line.strip_prefix("pending-fix:").unwrap_or(line);
        out.push(name.parse()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_names_round_trip() {
        for p in PendingFix::ALL {
            assert_eq!(p.name().parse::<PendingFix>().ok(), Some(p));
        }
        assert!("bogus".parse::<PendingFix>().is_err());
    }

    #[test]
    fn pending_list_reads_lines_and_comments() {
        let list = parse_pending_list("# c\npending-fix: regex\n\npending-fix: to-xml # x\n");
        assert_eq!(list.ok(), Some(vec![PendingFix::Regex, PendingFix::ToXml]));
        assert!(parse_pending_list("pending-fix: nope").is_err());
    }

    #[test]
    fn every_modern_difference_has_a_rule() {
        for d in ModernDifference::ALL {
            assert!(!d.rule().is_empty());
        }
    }
}
