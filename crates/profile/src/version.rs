//! Package names and versions as `nix-env` reads them: `builtins.parseDrvName` (the name
//! ends at the first `-` that is followed by something other than a letter) and
//! `builtins.compareVersions` (component-wise: numbers numerically, `pre` before anything,
//! a missing component before a number, letters before numbers, else byte order; digit runs
//! too long for a C `int` are words).

use std::cmp::Ordering;

/// A package name split into its name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvName {
    /// The name without the version (`hello`).
    pub pname: String,
    /// The version (`2.10`), empty if there is none.
    pub version: String,
}

/// Splits `name` as `builtins.parseDrvName` does.
pub fn parse_drv_name(name: &str) -> DrvName {
    let bytes = name.as_bytes();
    let split = (0..bytes.len())
        .find(|&i| bytes[i] == b'-' && bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()));
    match split {
        Some(i) => DrvName {
            pname: name[..i].to_owned(),
            version: name[i + 1..].to_owned(),
        },
        None => DrvName {
            pname: name.to_owned(),
            version: String::new(),
        },
    }
}

/// The components of a version: runs of digits, runs of other characters; `.` and `-`
/// separate and are dropped.
fn components(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' || b[i] == b'-' {
            i += 1;
            continue;
        }
        let digit = b[i].is_ascii_digit();
        let start = i;
        while i < b.len() && b[i] != b'.' && b[i] != b'-' && b[i].is_ascii_digit() == digit {
            i += 1;
        }
        out.push(&v[start..i]);
    }
    out
}

fn number(c: &str) -> Option<i32> {
    // A C `int` as CppNix reads it: digit runs beyond `i32::MAX` compare as words.
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    c.parse().ok()
}

/// Whether component `a` sorts before component `b`.
fn component_less(a: &str, b: &str) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x < y,
        (None, Some(_)) if a.is_empty() => true,
        _ if a == "pre" && b != "pre" => true,
        _ if b == "pre" => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        _ => a < b,
    }
}

/// Compares two versions as `builtins.compareVersions` does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ca, cb) = (components(a), components(b));
    for i in 0..ca.len().max(cb.len()) {
        let x = ca.get(i).copied().unwrap_or("");
        let y = cb.get(i).copied().unwrap_or("");
        if component_less(x, y) {
            return Ordering::Less;
        }
        if component_less(y, x) {
            return Ordering::Greater;
        }
    }
    Ordering::Equal
}

/// A package selector as `nix-env` takes it: `NAME` or `NAME-VERSION`, `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    name: DrvName,
    full: String,
}

impl Selector {
    /// Reads a selector.
    pub fn new(text: &str) -> Self {
        Self {
            name: parse_drv_name(text),
            full: text.to_owned(),
        }
    }

    /// Whether a package called `name` (with its version) matches.
    pub fn matches(&self, name: &str) -> bool {
        if self.full == "*" {
            return true;
        }
        if name == self.full {
            return true;
        }
        let n = parse_drv_name(name);
        n.pname == self.name.pname
            && (self.name.version.is_empty() || n.version == self.name.version)
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_first_dash_before_a_non_letter() {
        assert_eq!(parse_drv_name("hello-2.10").pname, "hello");
        assert_eq!(parse_drv_name("hello-2.10").version, "2.10");
        assert_eq!(
            parse_drv_name("nix-env-tools-1.0-pre").pname,
            "nix-env-tools"
        );
        assert_eq!(parse_drv_name("busybox").version, "");
        assert_eq!(parse_drv_name("a-").pname, "a-");
    }

    #[test]
    fn selectors_match_name_or_name_and_version() {
        let s = Selector::new("hello");
        assert!(s.matches("hello-1.0") && s.matches("hello") && !s.matches("hello-world-1"));
        assert!(Selector::new("hello-1.0").matches("hello-1.0"));
        assert!(!Selector::new("hello-1.0").matches("hello-2.0"));
        assert!(Selector::new("*").matches("anything-3"));
    }
}
