//! Builds Nix derivations in a Linux sandbox and realises derivation graphs, as CppNix's
//! local builder does: user, mount, pid, ipc, uts and (unless fixed-output) network
//! namespaces; a fresh root with only the input closure, read-only; CppNix's environment,
//! `/etc` files and `/dev`; log capture with silence and total timeouts; output
//! normalisation, reference scanning, fixed-output verification and registration in a
//! [`nixkit_store::local::LocalStore`]; and a parallel scheduler with substitution.
//!
//! Works as root (the build user maps to a dedicated host uid, `30000 + slot` by default)
//! and as an unprivileged user with user namespaces enabled (the user's own ids are mapped).
//!
//! ```no_run
//! // Needs user namespaces; see tests/sandbox.rs for complete derivations.
//! use std::sync::Mutex;
//! use nixkit_sandbox::{realise, RealiseOptions};
//! use nixkit_store::local::{LocalStore, StoreConfig};
//! use nixkit_store::StoreDir;
//!
//! let store = LocalStore::open(StoreConfig::new("/tmp/nixkit-store", StoreDir::default())).unwrap();
//! let drv = store.store_dir().parse_path("/nix/store/9500qh9fnl03gbxjhnw1hnvgk69kz2iq-foo.drv").unwrap();
//! let store = Mutex::new(store);
//! let opts = RealiseOptions { jobs: 2, ..RealiseOptions::default() };
//! let done = realise(&store, &[drv.clone()], &opts, &|_event| {}).unwrap();
//! println!("{:?}", done.outputs[&drv]);
//! ```

pub mod boot;
pub mod build;
pub mod buildenv;
pub mod cgroup;
mod child;
pub mod env;
mod fetchurl;
pub mod layout;
pub mod register;
pub mod remote;
pub mod run;
pub mod scheduler;
mod seccomp;

pub use build::{
    build_derivation, read_derivation, BuildError, BuildMode, BuildSettings, BuiltDerivation,
};
pub use buildenv::{build_env, BuildEnvError, EnvPackage, EnvSpec};
pub use cgroup::CgroupLimits;
pub use env::{BuilderEnv, EnvError, EnvParams};
pub use layout::{BuildDir, SandboxSpec};
pub use register::RegisterError;
pub use run::{
    install_interrupt_handler, request_interrupt, run_sandboxed, RunOptions, RunOutcome, RunResult,
    SandboxError,
};
pub use scheduler::{
    realise, substitute_path, Event, RealiseError, RealiseOptions, Realised, SubstituteError,
};

/// The uid of the build user inside the sandbox.
pub const SANDBOX_UID: u32 = 1000;
/// The gid of the build group inside the sandbox.
pub const SANDBOX_GID: u32 = 100;
/// The host uid and gid the build user maps to when building as root (unless configured).
pub const DEFAULT_BUILD_UID: u32 = 30000;
