//! CppNix's built-in "corepkgs", found through the search path as
//! `<nix/NAME>` at `/__corepkgs__/NAME` when no search path entry has them.
//! The files are nixkit's own (see each file's header).

/// Where the corepkgs appear in paths (as in CppNix).
pub(crate) const ROOT: &str = "/__corepkgs__";

/// The text of corepkg `name` (e.g. `fetchurl.nix`).
pub(crate) fn file(name: &str) -> Option<&'static str> {
    match name {
        "fetchurl.nix" => Some(include_str!("fetchurl.nix")),
        _ => None,
    }
}
