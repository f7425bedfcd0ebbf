//! Nix derivations without IO: the model, CppNix's ATerm format (byte-identical reading and
//! writing), hash modulo, and output and `.drv` path computation.
//!
//! ```
//! use std::collections::HashMap;
//! use nixkit_derivation::{fill_output_paths, parse_derivation, Derivation, DerivationOutput};
//! use nixkit_store::StoreDir;
//!
//! let store = StoreDir::default();
//! let mut drv = Derivation {
//!     name: "foo".into(),
//!     system: "x86_64-linux".into(),
//!     builder: "/bin/sh".into(),
//!     args: vec!["-c".into(), "echo".into()],
//!     ..Derivation::default()
//! };
//! drv.outputs.insert("out".into(), DerivationOutput::Deferred);
//! for (k, v) in [("builder", "/bin/sh"), ("name", "foo"), ("system", "x86_64-linux")] {
//!     drv.env.insert(k.into(), v.into());
//! }
//! // Compute `out` as `derivation { … }` does; inputs would come from the map.
//! let inputs: HashMap<_, Derivation> = HashMap::new();
//! fill_output_paths(&mut drv, &store, &inputs, &mut Default::default()).unwrap();
//! assert_eq!(drv.env["out"], "/nix/store/kygnmi98hf8y66vibinpcwvwhzci5cnk-foo");
//!
//! let text = drv.to_aterm(&store).unwrap();
//! assert_eq!(parse_derivation(&store, "foo", text.as_bytes()).unwrap(), drv);
//! assert_eq!(
//!     store.print_path(&drv.drv_path(&store).unwrap()),
//!     "/nix/store/9500qh9fnl03gbxjhnw1hnvgk69kz2iq-foo.drv"
//! );
//! ```

mod aterm_parse;
mod aterm_write;
mod derivation;
mod hash_modulo;

pub use aterm_parse::{parse_derivation, ParseDerivationError, ParseErrorKind};
pub use aterm_write::WriteDerivationError;
pub use derivation::{
    downstream_placeholder, hash_placeholder, Derivation, DerivationKind, DerivationKindError,
    DerivationOutput,
};
pub use hash_modulo::{
    fill_output_paths, hash_derivation_modulo, DerivationSource, DrvHash, DrvHashKind, DrvHashMemo,
    DrvPathError, HashModuloError,
};
