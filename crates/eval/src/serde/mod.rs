//! [serde](https://serde.rs) support: read Nix values into Rust types and
//! turn Rust data into Nix values.
//!
//! [`from_value`] deserializes lazily: an attribute is only forced when the
//! target type asks for it (unknown attributes of a struct are never
//! evaluated). Attribute sets deserialize as maps and structs, lists as
//! sequences, and enums from a string (unit variants) or from a set with a
//! single attribute named after the variant. Errors say where they happened:
//! `at services.web.port: expected u16, found a string`.
//!
//! [`to_value`] goes the other way, for passing Rust data to Nix code (as
//! `--arg`-like inputs, or as the result of a Rust builtin).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use nixkit_eval::Evaluator;
//!
//! #[derive(Deserialize, Serialize, Debug, PartialEq)]
//! struct Web { port: u16, hosts: Vec<String>, tls: Option<bool> }
//!
//! let mut ev = Evaluator::builder().pure(true).build();
//! let v = ev.eval_str(r#"{ port = 80 + 8000; hosts = [ "a" "b" ]; unused = throw "lazy"; }"#, "/").unwrap();
//! let web: Web = nixkit_eval::serde::from_value(ev.state(), &v).unwrap();
//! assert_eq!(web, Web { port: 8080, hosts: vec!["a".into(), "b".into()], tls: None });
//!
//! // Rust data as a Nix value, e.g. an argument to a Nix function.
//! let arg = nixkit_eval::serde::to_value(&web).unwrap();
//! let f = ev.eval_str("w: w.port + builtins.length w.hosts", "/").unwrap();
//! let r = ev.call(&f, &[arg]).unwrap();
//! assert_eq!(ev.print(&r, true).unwrap(), "8082");
//!
//! let bad = ev.eval_str(r#"{ port = "80"; hosts = []; }"#, "/").unwrap();
//! let err = nixkit_eval::serde::from_value_named::<Web>(ev.state(), &bad, "web").unwrap_err();
//! assert_eq!(err.to_string(), "at web.port: expected u16, found a string");
//! ```

mod de;
mod ser;

pub use de::{from_value, from_value_named, DeError, DeErrorKind, ValueDeserializer};
pub use ser::{to_value, SerError, ValueSerializer};
