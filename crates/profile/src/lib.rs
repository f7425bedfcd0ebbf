//! A package manager's library in the manner of `nix-env`: profiles of user environments
//! that another package manager can reuse.
//!
//! - [`manifest`]: `manifest.nix` in nix-env's format, read and written;
//! - [`userenv`]: the user environment (nix-env's `buildEnv`: a symlink tree of the
//!   installed packages with priorities and collisions), added to the store with its
//!   references;
//! - [`packages`]: evaluating a package set and choosing packages by name (nix-env's
//!   name/version rules, [`version`]) or attribute path;
//! - [`manager`]: install, remove, upgrade, set-priority, queries, generations, gc;
//! - [`channels`]: named package sets snapshotted into the store;
//! - [`devshell`]: a derivation's development environment (`nix-shell FILE -A ATTR`);
//! - [`enter`]: running a profile's programs, a shell or a development environment where
//!   the store's paths resolve (a private mount namespace with the store at `/nix/store`).
//!
//! Generations are the store crate's profiles (`P-N-link`, atomic switch); each one is a GC
//! root, so collecting garbage never deletes what a generation uses.

pub mod channels;
pub mod devshell;
pub mod enter;
pub mod manager;
pub mod manifest;
pub mod packages;
pub mod userenv;
pub mod version;

pub use channels::{Channel, ChannelError, Channels};
pub use devshell::{dev_shell, DevShell, DevShellError};
pub use enter::EnterError;
pub use manager::{Change, ChangeError, GenerationError, Manager, QueryInstalledError};
pub use manifest::{ManifestError, MetaValue, Package, SourceRef};
pub use packages::{Available, PackageSet, PackageSetError, SetSource};
pub use userenv::{build_user_env, BuildEnvError};
pub use version::{compare_versions, parse_drv_name, DrvName, Selector};
