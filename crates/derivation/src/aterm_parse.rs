//! Reading derivations from CppNix's ATerm form, strictly: lists must be sorted without
//! duplicates, paths must be valid store paths, and errors carry a byte offset.

use std::collections::BTreeSet;

use nixkit_store::{
    ContentAddress, ContentAddressMethod, Hash, HashAlgo, ParseHashError, ParseStorePathError,
    StoreDir,
};
use nom::branch::alt;
use nom::combinator::map;
use nom::error::{ErrorKind, ParseError};
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded, terminated, tuple};
use nom::IResult;

use crate::derivation::{Derivation, DerivationOutput};

/// What is wrong at the error's offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The syntax requires something else here.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A path that is not a store path.
    #[error(transparent)]
    InvalidStorePath(ParseStorePathError),
    /// A malformed output hash or algorithm.
    #[error(transparent)]
    InvalidHash(ParseHashError),
    /// An output whose path/algo/hash fields fit no output kind.
    #[error("output fields fit no output kind")]
    InvalidOutput,
    /// A fixed output whose recorded path differs from the computed one.
    #[error("fixed output path should be '{expected}'")]
    FixedOutputPathMismatch {
        /// The computed path.
        expected: String,
    },
    /// A list out of order or with a duplicate.
    #[error("{0} are not sorted or contain a duplicate")]
    NotSorted(&'static str),
    /// The `DrvWithVersion` form (dynamic derivations) is not supported.
    #[error("'DrvWithVersion' derivations are not supported")]
    UnsupportedVersion,
    /// Bytes after the closing parenthesis.
    #[error("trailing data after the derivation")]
    TrailingData,
}

/// Why a derivation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed derivation '{name}' at byte offset {offset}: {kind}")]
pub struct ParseDerivationError {
    /// The derivation name given to the parser.
    pub name: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// The problem.
    pub kind: ParseErrorKind,
}

/// A nom error remembering where (as remaining length) and what.
#[derive(Debug)]
struct PErr {
    remaining: usize,
    kind: ParseErrorKind,
}

impl ParseError<&[u8]> for PErr {
    fn from_error_kind(input: &[u8], _kind: ErrorKind) -> Self {
        PErr {
            remaining: input.len(),
            kind: ParseErrorKind::Expected("valid ATerm syntax"),
        }
    }
    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a [u8], T, PErr>;

/// A string with the remaining input length where it starts (for error offsets).
struct Spanned {
    remaining: usize,
    text: String,
}

fn lit<'a>(t: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, ()> {
    move |input: &'a [u8]| match input.strip_prefix(t.as_bytes()) {
        Some(rest) => Ok((rest, ())),
        None => Err(nom::Err::Error(PErr {
            remaining: input.len(),
            kind: ParseErrorKind::Expected(t),
        })),
    }
}

fn fail<T>(remaining: usize, kind: ParseErrorKind) -> Result<T, nom::Err<PErr>> {
    Err(nom::Err::Failure(PErr { remaining, kind }))
}

/// A quoted string with `\`-escapes (`\n`, `\r`, `\t`; any other escaped byte stands for itself).
fn string(input: &[u8]) -> PResult<'_, Spanned> {
    let remaining = input.len();
    let (body, ()) = lit("\"")(input)?;
    let end = body.iter().position(|&b| b == b'"' || b == b'\\');
    let (bytes, rest) = match end {
        Some(i) if body[i] == b'"' => (body[..i].to_vec(), &body[i + 1..]),
        Some(_) => unescape(body, remaining)?,
        None => return fail(remaining, ParseErrorKind::UnterminatedString),
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok((rest, Spanned { remaining, text })),
        Err(_) => fail(remaining, ParseErrorKind::InvalidUtf8),
    }
}

fn unescape(body: &[u8], remaining: usize) -> Result<(Vec<u8>, &[u8]), nom::Err<PErr>> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => return Ok((out, &body[i + 1..])),
            b'\\' => {
                let Some(&c) = body.get(i + 1) else { break };
                out.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    fail(remaining, ParseErrorKind::UnterminatedString)
}

fn list<'a, T>(
    item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, Vec<T>> {
    delimited(lit("["), separated_list0(lit(","), item), lit("]"))
}

fn comma(input: &[u8]) -> PResult<'_, ()> {
    lit(",")(input)
}

type RawOutput = (Spanned, Spanned, Spanned, Spanned);

fn output(input: &[u8]) -> PResult<'_, RawOutput> {
    delimited(
        lit("("),
        tuple((
            string,
            preceded(comma, string),
            preceded(comma, string),
            preceded(comma, string),
        )),
        lit(")"),
    )(input)
}

fn input_drv(input: &[u8]) -> PResult<'_, (Spanned, Vec<Spanned>)> {
    delimited(
        lit("("),
        tuple((string, preceded(comma, list(string)))),
        lit(")"),
    )(input)
}

fn env_pair(input: &[u8]) -> PResult<'_, (Spanned, Spanned)> {
    delimited(lit("("), tuple((string, preceded(comma, string))), lit(")"))(input)
}

struct RawDerivation {
    outputs: Vec<RawOutput>,
    input_drvs: Vec<(Spanned, Vec<Spanned>)>,
    input_srcs: Vec<Spanned>,
    system: Spanned,
    builder: Spanned,
    args: Vec<Spanned>,
    env: Vec<(Spanned, Spanned)>,
}

fn derivation(input: &[u8]) -> PResult<'_, RawDerivation> {
    let version = map(lit("DrvWithVersion("), |()| true);
    let (rest, versioned) = alt((map(lit("Derive("), |()| false), version))(input)?;
    if versioned {
        return fail(input.len(), ParseErrorKind::UnsupportedVersion);
    }
    let (rest, (outputs, input_drvs, input_srcs, system, builder, args, env)) = terminated(
        tuple((
            list(output),
            preceded(comma, list(input_drv)),
            preceded(comma, list(string)),
            preceded(comma, string),
            preceded(comma, string),
            preceded(comma, list(string)),
            preceded(comma, list(env_pair)),
        )),
        lit(")"),
    )(rest)?;
    Ok((
        rest,
        RawDerivation {
            outputs,
            input_drvs,
            input_srcs,
            system,
            builder,
            args,
            env,
        },
    ))
}

/// Parses the ATerm text of a derivation called `name` (its `.drv` path name without `.drv`),
/// whose paths live in `store_dir`.
pub fn parse_derivation(
    store_dir: &StoreDir,
    name: &str,
    text: &[u8],
) -> Result<Derivation, ParseDerivationError> {
    let error = |remaining: usize, kind| ParseDerivationError {
        name: name.to_owned(),
        offset: text.len() - remaining,
        kind,
    };
    let raw = match derivation(text) {
        Ok((b"", raw)) => raw,
        Ok((rest, _)) => return Err(error(rest.len(), ParseErrorKind::TrailingData)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(error(e.remaining, e.kind)),
        Err(nom::Err::Incomplete(_)) => {
            return Err(error(0, ParseErrorKind::Expected("more input")))
        }
    };
    let store_path = |s: &Spanned| {
        store_dir
            .parse_path(&s.text)
            .map_err(|e| error(s.remaining, ParseErrorKind::InvalidStorePath(e)))
    };

    let mut drv = Derivation {
        name: name.to_owned(),
        ..Derivation::default()
    };
    for (out_name, path, algo, hash) in &raw.outputs {
        let output = match (path.text.as_str(), algo.text.as_str(), hash.text.as_str()) {
            ("", "", "") => DerivationOutput::Deferred,
            (_, "", "") => DerivationOutput::InputAddressed {
                path: store_path(path)?,
            },
            ("", algo_field, "impure") => {
                let (method, algo_name) = ContentAddressMethod::split_prefix(algo_field);
                DerivationOutput::Impure {
                    method,
                    algo: parse_algo(algo_name).map_err(|k| error(algo.remaining, k))?,
                }
            }
            ("", algo_field, "") => {
                let (method, algo_name) = ContentAddressMethod::split_prefix(algo_field);
                DerivationOutput::CaFloating {
                    method,
                    algo: parse_algo(algo_name).map_err(|k| error(algo.remaining, k))?,
                }
            }
            (_, algo_field, hash_text) if !algo_field.is_empty() => {
                let (method, algo_name) = ContentAddressMethod::split_prefix(algo_field);
                let algo_value = parse_algo(algo_name).map_err(|k| error(algo.remaining, k))?;
                let digest = Hash::parse_bare(hash_text, algo_value)
                    .map_err(|e| error(hash.remaining, ParseErrorKind::InvalidHash(e)))?;
                DerivationOutput::CaFixed(ContentAddress {
                    method,
                    hash: digest,
                })
            }
            _ => return Err(error(path.remaining, ParseErrorKind::InvalidOutput)),
        };
        if drv
            .outputs
            .last_key_value()
            .is_some_and(|(k, _)| *k >= out_name.text)
        {
            return Err(error(
                out_name.remaining,
                ParseErrorKind::NotSorted("outputs"),
            ));
        }
        drv.outputs.insert(out_name.text.clone(), output);
    }
    // Fixed outputs' recorded paths must match the computed ones.
    for (out_name, path, _, _) in &raw.outputs {
        if let Some(DerivationOutput::CaFixed(ca)) = drv.outputs.get(&out_name.text) {
            let expected = drv
                .fixed_output_path(store_dir, &out_name.text, ca)
                .map(|p| store_dir.print_path(&p))
                .map_err(|_| error(path.remaining, ParseErrorKind::InvalidOutput))?;
            if expected != path.text {
                let kind = ParseErrorKind::FixedOutputPathMismatch { expected };
                return Err(error(path.remaining, kind));
            }
        }
    }
    for (path, outputs) in &raw.input_drvs {
        let path_value = store_path(path)?;
        if drv
            .input_drvs
            .last_key_value()
            .is_some_and(|(k, _)| *k >= path_value)
        {
            return Err(error(
                path.remaining,
                ParseErrorKind::NotSorted("input derivations"),
            ));
        }
        let names =
            sorted_set(outputs, "input derivation outputs").map_err(|(r, k)| error(r, k))?;
        drv.input_drvs.insert(path_value, names);
    }
    for path in &raw.input_srcs {
        let path_value = store_path(path)?;
        if drv.input_srcs.last().is_some_and(|k| *k >= path_value) {
            return Err(error(
                path.remaining,
                ParseErrorKind::NotSorted("input sources"),
            ));
        }
        drv.input_srcs.insert(path_value);
    }
    drv.system = raw.system.text;
    drv.builder = raw.builder.text;
    drv.args = raw.args.into_iter().map(|s| s.text).collect();
    for (key, value) in raw.env {
        if drv
            .env
            .last_key_value()
            .is_some_and(|(k, _)| *k >= key.text)
        {
            return Err(error(
                key.remaining,
                ParseErrorKind::NotSorted("environment variables"),
            ));
        }
        drv.env.insert(key.text, value.text);
    }
    Ok(drv)
}

fn parse_algo(name: &str) -> Result<HashAlgo, ParseErrorKind> {
    name.parse::<HashAlgo>()
        .map_err(|e| ParseErrorKind::InvalidHash(ParseHashError::UnknownAlgo(e)))
}

fn sorted_set(
    items: &[Spanned],
    what: &'static str,
) -> Result<BTreeSet<String>, (usize, ParseErrorKind)> {
    let mut set = BTreeSet::new();
    for item in items {
        if set.last().is_some_and(|k: &String| *k >= item.text) {
            return Err((item.remaining, ParseErrorKind::NotSorted(what)));
        }
        set.insert(item.text.clone());
    }
    Ok(set)
}
