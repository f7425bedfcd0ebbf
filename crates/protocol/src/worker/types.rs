//! Payloads shared by several operations (and, for derivations and build results, by the
//! serve protocol): path infos, derived paths, derivations, build results, GC options and
//! client settings, each with its reader and writer.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use nixkit_store::{ContentAddress, Hash, HashAlgo, PathInfo, StoreDir, StorePath};

use crate::wire::{self, Limits, WireError, WireResult};

/// Everything the two sides share to read and write payloads.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The store directory paths are printed in.
    pub store: StoreDir,
    /// Bounds on what the peer may declare.
    pub limits: Limits,
    /// The negotiated minor version.
    pub minor: u64,
}

/// Parses a NAR hash as CppNix sends it (base16 without algorithm in the worker protocol,
/// `sha256:` + nix32 in the serve protocol).
pub fn parse_nar_hash(text: &str) -> WireResult<Hash> {
    Hash::parse_any(text, Some(HashAlgo::Sha256)).map_err(|e| WireError::BadValue {
        what: "NAR hash",
        detail: format!("{text:?}: {e}"),
    })
}

/// Parses a content address, empty meaning none.
pub fn parse_ca(text: &str) -> WireResult<Option<ContentAddress>> {
    if text.is_empty() {
        return Ok(None);
    }
    ContentAddress::parse(text)
        .map(Some)
        .map_err(|e| WireError::BadValue {
            what: "content address",
            detail: format!("{text:?}: {e}"),
        })
}

/// Reads a path info without its path (the worker protocol's `QueryPathInfo` reply and
/// `AddToStoreNar` request body): deriver, NAR hash, references, registration time, NAR
/// size, then (1.16+) ultimate, signatures and content address.
pub fn read_path_info_body(r: &mut impl Read, ctx: &Ctx, path: StorePath) -> WireResult<PathInfo> {
    let deriver = wire::read_opt_path(r, &ctx.store, &ctx.limits, "deriver")?;
    let nar_hash = parse_nar_hash(&wire::read_string(r, &ctx.limits, "NAR hash")?)?;
    let references = wire::read_paths(r, &ctx.store, &ctx.limits, "references")?;
    let registration_time = wire::read_i64(r, "registration time")?;
    let nar_size = wire::read_u64(r, "NAR size")?;
    let mut info = PathInfo::new(path, nar_hash, nar_size);
    info.deriver = deriver;
    info.references = references;
    info.registration_time = registration_time;
    if ctx.minor >= 16 {
        info.ultimate = wire::read_flag(r, "ultimate")?;
        info.sigs = wire::read_string_set(r, &ctx.limits, "signatures")?;
        info.ca = parse_ca(&wire::read_string(r, &ctx.limits, "content address")?)?;
    }
    Ok(info)
}

/// Writes a path info without its path; see [`read_path_info_body`].
pub fn write_path_info_body(w: &mut impl Write, ctx: &Ctx, info: &PathInfo) -> WireResult<()> {
    wire::write_opt_path(w, &ctx.store, info.deriver.as_ref())?;
    wire::write_bytes(w, info.nar_hash.to_base16().as_bytes())?;
    wire::write_paths(w, &ctx.store, info.references.iter())?;
    wire::write_i64(w, info.registration_time)?;
    wire::write_u64(w, info.nar_size)?;
    if ctx.minor >= 16 {
        wire::write_bool(w, info.ultimate)?;
        wire::write_strings(w, info.sigs.iter())?;
        let ca = info.ca.as_ref().map(|c| c.to_string()).unwrap_or_default();
        wire::write_bytes(w, ca.as_bytes())?;
    }
    Ok(())
}

/// A path to realise: an opaque store path, or outputs of a derivation (`drv!out1,out2`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DerivedPath {
    /// A store path.
    Opaque(StorePath),
    /// Outputs of a derivation; an empty list or `*` means all.
    Built {
        /// The derivation.
        drv: StorePath,
        /// The output names.
        outputs: Vec<String>,
    },
}

impl DerivedPath {
    /// Parses the wire form.
    pub fn parse(store: &StoreDir, text: &str) -> WireResult<Self> {
        match text.split_once('!') {
            None => Ok(DerivedPath::Opaque(wire::parse_store_path(store, text)?)),
            Some((drv, outs)) => Ok(DerivedPath::Built {
                drv: wire::parse_store_path(store, drv)?,
                outputs: outs
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }),
        }
    }

    /// The wire form.
    pub fn render(&self, store: &StoreDir) -> String {
        match self {
            DerivedPath::Opaque(p) => store.print_path(p),
            DerivedPath::Built { drv, outputs } => {
                format!("{}!{}", store.print_path(drv), outputs.join(","))
            }
        }
    }
}

/// Reads a list of derived paths.
pub fn read_derived_paths(r: &mut impl Read, ctx: &Ctx) -> WireResult<Vec<DerivedPath>> {
    wire::read_strings(r, &ctx.limits, "derived paths")?
        .iter()
        .map(|s| DerivedPath::parse(&ctx.store, s))
        .collect()
}

/// Writes a list of derived paths.
pub fn write_derived_paths(w: &mut impl Write, ctx: &Ctx, paths: &[DerivedPath]) -> WireResult<()> {
    wire::write_strings(w, paths.iter().map(|p| p.render(&ctx.store)))
}

/// One output of a derivation as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDrvOutput {
    /// The output name.
    pub name: String,
    /// The output path; empty for floating content-addressed outputs.
    pub path: String,
    /// The hash algorithm (`r:sha256`, ...) of fixed or floating outputs; empty otherwise.
    pub hash_algo: String,
    /// The base16 hash of fixed outputs; empty otherwise.
    pub hash: String,
}

/// A derivation without its input derivations (CppNix's `BasicDerivation`), as
/// `BuildDerivation` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireDerivation {
    /// The outputs, in name order.
    pub outputs: Vec<WireDrvOutput>,
    /// The input sources (including the input derivations' outputs).
    pub input_srcs: BTreeSet<StorePath>,
    /// The system.
    pub platform: String,
    /// The builder.
    pub builder: String,
    /// The builder's arguments.
    pub args: Vec<String>,
    /// The environment, in name order.
    pub env: Vec<(String, String)>,
}

/// Reads a derivation.
pub fn read_derivation(r: &mut impl Read, ctx: &Ctx) -> WireResult<WireDerivation> {
    let n = wire::read_count(r, &ctx.limits, "derivation outputs")?;
    let mut outputs = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        outputs.push(WireDrvOutput {
            name: wire::read_string(r, &ctx.limits, "output name")?,
            path: wire::read_string(r, &ctx.limits, "output path")?,
            hash_algo: wire::read_string(r, &ctx.limits, "output hash algorithm")?,
            hash: wire::read_string(r, &ctx.limits, "output hash")?,
        });
    }
    let input_srcs = wire::read_paths(r, &ctx.store, &ctx.limits, "input sources")?;
    let platform = wire::read_string(r, &ctx.limits, "platform")?;
    let builder = wire::read_string(r, &ctx.limits, "builder")?;
    let args = wire::read_strings(r, &ctx.limits, "builder arguments")?;
    let n = wire::read_count(r, &ctx.limits, "environment")?;
    let mut env = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let k = wire::read_string(r, &ctx.limits, "environment name")?;
        let v = wire::read_string(r, &ctx.limits, "environment value")?;
        env.push((k, v));
    }
    Ok(WireDerivation {
        outputs,
        input_srcs,
        platform,
        builder,
        args,
        env,
    })
}

/// Writes a derivation.
pub fn write_derivation(w: &mut impl Write, ctx: &Ctx, drv: &WireDerivation) -> WireResult<()> {
    wire::write_u64(w, drv.outputs.len() as u64)?;
    for o in &drv.outputs {
        wire::write_bytes(w, o.name.as_bytes())?;
        wire::write_bytes(w, o.path.as_bytes())?;
        wire::write_bytes(w, o.hash_algo.as_bytes())?;
        wire::write_bytes(w, o.hash.as_bytes())?;
    }
    wire::write_paths(w, &ctx.store, drv.input_srcs.iter())?;
    wire::write_bytes(w, drv.platform.as_bytes())?;
    wire::write_bytes(w, drv.builder.as_bytes())?;
    wire::write_strings(w, drv.args.iter())?;
    wire::write_u64(w, drv.env.len() as u64)?;
    for (k, v) in &drv.env {
        wire::write_bytes(w, k.as_bytes())?;
        wire::write_bytes(w, v.as_bytes())?;
    }
    Ok(())
}

/// How to build (CppNix's `BuildMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u64)]
pub enum BuildMode {
    /// Build what is missing.
    #[default]
    Normal = 0,
    /// Rebuild and replace.
    Repair = 1,
    /// Rebuild and compare.
    Check = 2,
}

impl BuildMode {
    /// Reads a build mode.
    pub fn read(r: &mut impl Read) -> WireResult<Self> {
        match wire::read_u64(r, "build mode")? {
            0 => Ok(BuildMode::Normal),
            1 => Ok(BuildMode::Repair),
            2 => Ok(BuildMode::Check),
            v => Err(WireError::BadValue {
                what: "build mode",
                detail: format!("{v} (expected 0, 1 or 2)"),
            }),
        }
    }
}

/// The outcome of building one derivation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildResult {
    /// CppNix's `BuildResult::Status` (0 built, 1 substituted, 2 already valid, 3+ failures).
    pub status: u64,
    /// The error message, empty on success.
    pub error_msg: String,
    /// How many times it was built.
    pub times_built: u64,
    /// Whether repeated builds differed.
    pub is_non_deterministic: bool,
    /// When the build started (seconds since the epoch).
    pub start_time: i64,
    /// When it stopped.
    pub stop_time: i64,
    /// Realisations of the built outputs: `DrvOutput` id and JSON, as sent.
    pub built_outputs: Vec<(String, String)>,
}

impl BuildResult {
    /// True for the statuses that mean success (built, substituted, already valid).
    pub fn success(&self) -> bool {
        self.status <= 2
    }

    /// Reads a result. `with_times` and `with_outputs` say whether the negotiated version
    /// carries those fields (worker 1.29/1.28, serve 2.3/2.6).
    pub fn read(
        r: &mut impl Read,
        limits: &Limits,
        with_times: bool,
        with_outputs: bool,
    ) -> WireResult<Self> {
        let mut res = BuildResult {
            status: wire::read_u64(r, "build status")?,
            error_msg: String::from_utf8_lossy(&wire::read_bytes(r, limits, "build error")?)
                .into_owned(),
            ..Default::default()
        };
        if with_times {
            res.times_built = wire::read_u64(r, "times built")?;
            res.is_non_deterministic = wire::read_flag(r, "non-deterministic")?;
            res.start_time = wire::read_i64(r, "start time")?;
            res.stop_time = wire::read_i64(r, "stop time")?;
        }
        if with_outputs {
            let n = wire::read_count(r, limits, "built outputs")?;
            for _ in 0..n {
                let id = wire::read_string(r, limits, "built output id")?;
                let json = wire::read_string(r, limits, "realisation")?;
                res.built_outputs.push((id, json));
            }
        }
        Ok(res)
    }

    /// Writes a result; see [`BuildResult::read`].
    pub fn write(
        &self,
        w: &mut impl Write,
        with_times: bool,
        with_outputs: bool,
    ) -> WireResult<()> {
        wire::write_u64(w, self.status)?;
        wire::write_bytes(w, self.error_msg.as_bytes())?;
        if with_times {
            wire::write_u64(w, self.times_built)?;
            wire::write_bool(w, self.is_non_deterministic)?;
            wire::write_i64(w, self.start_time)?;
            wire::write_i64(w, self.stop_time)?;
        }
        if with_outputs {
            wire::write_u64(w, self.built_outputs.len() as u64)?;
            for (id, json) in &self.built_outputs {
                wire::write_bytes(w, id.as_bytes())?;
                wire::write_bytes(w, json.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// What `CollectGarbage` does (CppNix's `GCOptions::GCAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum GcAction {
    /// List the live paths.
    ReturnLive = 0,
    /// List the dead paths.
    ReturnDead = 1,
    /// Delete the dead paths.
    DeleteDead = 2,
    /// Delete the given paths (an error if one is live).
    DeleteSpecific = 3,
}

/// The request of `CollectGarbage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// What to do.
    pub action: GcAction,
    /// The paths for [`GcAction::DeleteSpecific`].
    pub paths_to_delete: BTreeSet<StorePath>,
    /// Delete even live paths (trusted clients only).
    pub ignore_liveness: bool,
    /// Stop after freeing this many bytes.
    pub max_freed: u64,
}

impl GcOptions {
    /// Reads the request (with its three obsolete fields).
    pub fn read(r: &mut impl Read, ctx: &Ctx) -> WireResult<Self> {
        let action = match wire::read_u64(r, "GC action")? {
            0 => GcAction::ReturnLive,
            1 => GcAction::ReturnDead,
            2 => GcAction::DeleteDead,
            3 => GcAction::DeleteSpecific,
            v => {
                return Err(WireError::BadValue {
                    what: "GC action",
                    detail: format!("{v} (expected 0 to 3)"),
                })
            }
        };
        let paths_to_delete = wire::read_paths(r, &ctx.store, &ctx.limits, "paths to delete")?;
        let ignore_liveness = wire::read_flag(r, "ignore liveness")?;
        let max_freed = wire::read_u64(r, "max freed")?;
        for _ in 0..3 {
            wire::read_u64(r, "obsolete GC field")?;
        }
        Ok(GcOptions {
            action,
            paths_to_delete,
            ignore_liveness,
            max_freed,
        })
    }

    /// Writes the request.
    pub fn write(&self, w: &mut impl Write, ctx: &Ctx) -> WireResult<()> {
        wire::write_u64(w, self.action as u64)?;
        wire::write_paths(w, &ctx.store, self.paths_to_delete.iter())?;
        wire::write_bool(w, self.ignore_liveness)?;
        wire::write_u64(w, self.max_freed)?;
        for _ in 0..3 {
            wire::write_u64(w, 0)?;
        }
        Ok(())
    }
}

/// The per-connection settings of `SetOptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Keep failed build directories.
    pub keep_failed: bool,
    /// Keep going after a failed build.
    pub keep_going: bool,
    /// Build from source when substitution fails.
    pub try_fallback: bool,
    /// Log verbosity (0 = errors only).
    pub verbosity: u64,
    /// Maximum parallel builds.
    pub max_build_jobs: u64,
    /// Seconds without output before a build is killed (0: none).
    pub max_silent_time: u64,
    /// Verbosity of build logs.
    pub build_verbosity: u64,
    /// Cores per build (0: all).
    pub build_cores: u64,
    /// Use substitutes.
    pub use_substitutes: bool,
    /// Further settings by name (1.12+).
    pub overrides: Vec<(String, String)>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            keep_failed: false,
            keep_going: false,
            try_fallback: false,
            verbosity: 0,
            max_build_jobs: 1,
            max_silent_time: 0,
            build_verbosity: 0,
            build_cores: 0,
            use_substitutes: true,
            overrides: Vec::new(),
        }
    }
}

impl ClientSettings {
    /// Reads the request (obsolete fields are read and dropped).
    pub fn read(r: &mut impl Read, ctx: &Ctx) -> WireResult<Self> {
        let keep_failed = wire::read_flag(r, "keep failed")?;
        let keep_going = wire::read_flag(r, "keep going")?;
        let try_fallback = wire::read_flag(r, "try fallback")?;
        let verbosity = wire::read_u64(r, "verbosity")?;
        let max_build_jobs = wire::read_u64(r, "max build jobs")?;
        let max_silent_time = wire::read_u64(r, "max silent time")?;
        wire::read_u64(r, "obsolete use build hook")?;
        let build_verbosity = wire::read_u64(r, "build verbosity")?;
        wire::read_u64(r, "obsolete log type")?;
        wire::read_u64(r, "obsolete print build trace")?;
        let build_cores = wire::read_u64(r, "build cores")?;
        let use_substitutes = wire::read_flag(r, "use substitutes")?;
        let mut overrides = Vec::new();
        if ctx.minor >= 12 {
            let n = wire::read_count(r, &ctx.limits, "setting overrides")?;
            for _ in 0..n {
                let k = wire::read_string(r, &ctx.limits, "setting name")?;
                let v = wire::read_string(r, &ctx.limits, "setting value")?;
                overrides.push((k, v));
            }
        }
        Ok(ClientSettings {
            keep_failed,
            keep_going,
            try_fallback,
            verbosity,
            max_build_jobs,
            max_silent_time,
            build_verbosity,
            build_cores,
            use_substitutes,
            overrides,
        })
    }

    /// Writes the request.
    pub fn write(&self, w: &mut impl Write, ctx: &Ctx) -> WireResult<()> {
        wire::write_bool(w, self.keep_failed)?;
        wire::write_bool(w, self.keep_going)?;
        wire::write_bool(w, self.try_fallback)?;
        wire::write_u64(w, self.verbosity)?;
        wire::write_u64(w, self.max_build_jobs)?;
        wire::write_u64(w, self.max_silent_time)?;
        wire::write_u64(w, 1)?; // obsolete: use build hook
        wire::write_u64(w, self.build_verbosity)?;
        wire::write_u64(w, 0)?; // obsolete: log type
        wire::write_u64(w, 0)?; // obsolete: print build trace
        wire::write_u64(w, self.build_cores)?;
        wire::write_bool(w, self.use_substitutes)?;
        if ctx.minor >= 12 {
            wire::write_u64(w, self.overrides.len() as u64)?;
            for (k, v) in &self.overrides {
                wire::write_bytes(w, k.as_bytes())?;
                wire::write_bytes(w, v.as_bytes())?;
            }
        }
        Ok(())
    }
}
