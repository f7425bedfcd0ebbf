//! Path literal resolution as CppNix does it at parse time (no file system
//! access: `.` and `..` are removed textually, symlinks are not followed).

/// Canonicalises an absolute path: collapses `//`, drops `.`, applies `..`
/// and removes a trailing slash (`/` stays `/`).
pub(crate) fn canon_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Makes `path` absolute against `base` (an absolute directory) and canonical.
pub(crate) fn abs_path(path: &str, base: &str) -> String {
    if path.starts_with('/') {
        canon_path(path)
    } else {
        canon_path(&format!("{base}/{path}"))
    }
}

/// Resolves the first segment of a path literal the way CppNix's parser does:
/// absolute and canonical, with a trailing `/` kept if it was written (so that
/// interpolation after it concatenates correctly).
pub(crate) fn resolve_literal(literal: &str, base: &str) -> String {
    let mut p = abs_path(literal, base);
    if literal.len() > 1 && literal.ends_with('/') && !p.ends_with('/') {
        p.push('/');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalisation() {
        assert_eq!(canon_path("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(canon_path("/.."), "/");
        assert_eq!(abs_path("./foo", "/base/dir"), "/base/dir/foo");
        assert_eq!(abs_path("../foo", "/base/dir"), "/base/foo");
        assert_eq!(resolve_literal("./foo/", "/b"), "/b/foo/");
        assert_eq!(resolve_literal("/", "/b"), "/");
    }
}
