//! Remote builders, as CppNix's `builders` setting describes them: the machines file format,
//! choosing a machine for a derivation (system, features, free slots, speed), and building
//! on one over `ssh … nix-store --serve --write` (`ssh://`) or `ssh … nix-daemon --stdio`
//! (`ssh-ng://`, the daemon's protocol; sessions in `session.rs`) — the input closure
//! copied there, the derivation built in full (`BuildDerivation`), the outputs copied back
//! and registered. The remote may be CppNix or nixkit; the log of the remote build streams
//! back.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Seek};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_protocol::worker::types::{WireDerivation, WireDrvOutput};
use nixkit_store::local::LocalStore;
use nixkit_store::StorePath;

use crate::build::{input_paths, BuildError, BuildSettings, BuiltDerivation};
use crate::register::output_paths;

mod session;

pub use session::RemotePool;
use session::{connect, LogFn};

/// One remote machine of the `builders` setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// `ssh://[user@]host` or `ssh-ng://[user@]host` (a bare host gets `ssh://`).
    pub uri: String,
    /// The systems it builds for.
    pub systems: Vec<String>,
    /// The SSH key to log in with.
    pub ssh_key: Option<PathBuf>,
    /// Builds at once.
    pub max_jobs: usize,
    /// Relative speed; faster machines are preferred.
    pub speed_factor: f64,
    /// Features it offers (`kvm`, `big-parallel`, ...).
    pub supported_features: BTreeSet<String>,
    /// Features a derivation must ask for to be built there.
    pub mandatory_features: BTreeSet<String>,
}

/// Why a `builders` specification could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MachinesError {
    /// A field is malformed.
    #[error("builders: machine '{machine}': {reason}")]
    Field {
        /// The machine's URI.
        machine: String,
        /// What is wrong.
        reason: String,
    },
    /// A machines file (`@FILE`) could not be read.
    #[error("builders: reading '{path}': {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn field_list(s: Option<&str>) -> BTreeSet<String> {
    match s {
        None | Some("-") | Some("") => BTreeSet::new(),
        Some(s) => s
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// Parses CppNix's `builders` value: machines separated by newlines or `;`, each
/// `URI [SYSTEMS [KEY [MAX-JOBS [SPEED [SUPPORTED [MANDATORY [HOST-KEY]]]]]]]` with `-` for a
/// default, `#` comments, and `@FILE` for a file of such lines. `local_system` is what `-`
/// in the systems field means.
pub fn parse_machines(spec: &str, local_system: &str) -> Result<Vec<Machine>, MachinesError> {
    let mut out = Vec::new();
    for entry in spec.split(['\n', ';']) {
        let entry = entry.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        if let Some(file) = entry.strip_prefix('@') {
            let path = PathBuf::from(file);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(MachinesError::File { path, source }),
            };
            out.extend(parse_machines(&text, local_system)?);
            continue;
        }
        let f: Vec<&str> = entry.split_whitespace().collect();
        let uri = if f[0].contains("://") {
            f[0].to_owned()
        } else {
            format!("ssh://{}", f[0])
        };
        let bad = |reason: String| MachinesError::Field {
            machine: uri.clone(),
            reason,
        };
        if !uri.starts_with("ssh://") && !uri.starts_with("ssh-ng://") {
            return Err(bad(
                "only ssh:// and ssh-ng:// machines are supported".into()
            ));
        }
        let systems = match f.get(1) {
            None | Some(&"-") => vec![local_system.to_owned()],
            Some(s) => s.split(',').map(str::to_owned).collect(),
        };
        let ssh_key = f.get(2).filter(|k| **k != "-").map(PathBuf::from);
        let max_jobs = match f.get(3) {
            None | Some(&"-") => 1,
            Some(n) => n
                .parse()
                .map_err(|_| bad(format!("bad maximum number of jobs '{n}'")))?,
        };
        let speed_factor = match f.get(4) {
            None | Some(&"-") => 1.0,
            Some(n) => n
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .ok_or_else(|| bad(format!("bad speed factor '{n}'")))?,
        };
        let mandatory_features = field_list(f.get(6).copied());
        let mut supported_features = field_list(f.get(5).copied());
        supported_features.extend(mandatory_features.iter().cloned());
        out.push(Machine {
            uri,
            systems,
            ssh_key,
            max_jobs,
            speed_factor,
            supported_features,
            mandatory_features,
        });
    }
    Ok(out)
}

/// The features a derivation asks for (`requiredSystemFeatures`).
pub fn required_features(drv: &Derivation) -> BTreeSet<String> {
    drv.env
        .get("requiredSystemFeatures")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Machine {
    /// Whether this machine may build `drv`.
    pub fn fits(&self, drv: &Derivation) -> bool {
        let wanted = required_features(drv);
        self.max_jobs > 0
            && self.systems.contains(&drv.system)
            && wanted.is_subset(&self.supported_features)
            && self.mandatory_features.is_subset(&wanted)
    }

    fn host(&self) -> &str {
        self.uri
            .strip_prefix("ssh-ng://")
            .unwrap_or_else(|| self.uri.trim_start_matches("ssh://"))
    }

    /// Whether the machine speaks the daemon's protocol (`ssh-ng://`).
    pub fn is_ssh_ng(&self) -> bool {
        self.uri.starts_with("ssh-ng://")
    }
}

/// The derivation as `BuildDerivation` sends it: input derivations resolved to their
/// outputs' paths.
fn wire_derivation(
    store_dir: &nixkit_store::StoreDir,
    drv: &Derivation,
    inputs: &BTreeSet<StorePath>,
    outputs: &BTreeMap<String, StorePath>,
) -> WireDerivation {
    let outs = drv
        .outputs
        .iter()
        .map(|(name, o)| {
            let path = outputs
                .get(name)
                .map(|p| store_dir.print_path(p))
                .unwrap_or_default();
            let (hash_algo, hash) = match o {
                DerivationOutput::CaFixed(ca) => (
                    format!("{}{}", ca.method.prefix(), ca.hash.algo()),
                    ca.hash.to_base16(),
                ),
                DerivationOutput::CaFloating { method, algo }
                | DerivationOutput::Impure { method, algo } => {
                    (format!("{}{algo}", method.prefix()), String::new())
                }
                _ => (String::new(), String::new()),
            };
            WireDrvOutput {
                name: name.clone(),
                path,
                hash_algo,
                hash,
            }
        })
        .collect();
    WireDerivation {
        outputs: outs,
        input_srcs: inputs.clone(),
        platform: drv.system.clone(),
        builder: drv.builder.clone(),
        args: drv.args.clone(),
        env: drv
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds `drv` on `machine`: copies what the remote lacks of the input closure, builds,
/// and copies the outputs back into `store`, registered with `drv_path` as deriver. A
/// session of `pool` is reused when one is idle, and returned to it after a success.
pub fn build_remote(
    store: &Mutex<LocalStore>,
    machine: &Machine,
    pool: &RemotePool,
    drv_path: &StorePath,
    drv: &Derivation,
    settings: &BuildSettings,
    on_output: impl FnMut(&[u8]) + Send + 'static,
) -> Result<BuiltDerivation, BuildError> {
    let start = Instant::now();
    let (store_dir, printed, inputs, closure, outputs) = {
        let s = lock(store);
        let inputs = input_paths(&s, drv)?;
        let closure = s.topo_sort(&s.query_closure(&inputs)?)?;
        let outputs = output_paths(s.store_dir(), drv)?;
        (
            s.store_dir().clone(),
            s.store_dir().print_path(drv_path),
            inputs,
            closure,
            outputs,
        )
    };
    let fail = |reason: String| BuildError::Remote {
        drv: printed.clone(),
        machine: machine.uri.clone(),
        reason,
    };
    // The machine failed, not the build: the scheduler tries elsewhere.
    let unavailable = |reason: String| BuildError::RemoteUnavailable {
        drv: printed.clone(),
        machine: machine.uri.clone(),
        reason,
    };
    let proto = |e: nixkit_protocol::ProtocolError| unavailable(e.to_string());
    let (mut session, reused) = match pool.take(&machine.uri) {
        Some(s) => (s, true),
        None => (connect(machine, &store_dir).map_err(&unavailable)?, false),
    };
    let on_output: LogFn = Box::new(on_output);
    *lock(&session.sink) = Some(on_output);
    // Inputs: only what the remote does not have, references first.
    let wanted: BTreeSet<StorePath> = closure.iter().cloned().collect();
    let present = match session.client.query_valid_paths(&wanted) {
        Ok(p) => p,
        // An idle session may have died meanwhile: one fresh login before giving up.
        Err(_) if reused => {
            let on_output = lock(&session.sink).take();
            drop(session);
            session = connect(machine, &store_dir).map_err(&unavailable)?;
            *lock(&session.sink) = on_output;
            session.client.query_valid_paths(&wanted).map_err(proto)?
        }
        Err(e) => return Err(proto(e)),
    };
    for path in closure.iter().filter(|p| !present.contains(*p)) {
        let (info, real) = {
            let s = lock(store);
            let info = s.query_path_info(path)?.ok_or_else(|| {
                fail(format!(
                    "input '{}' is not valid",
                    store_dir.print_path(path)
                ))
            })?;
            (info, s.real_path(path))
        };
        let mut nar = spool_nar(&real).map_err(|e| fail(format!("reading an input: {e}")))?;
        session.client.add_nar(&info, &mut nar).map_err(proto)?;
    }
    let wire = wire_derivation(&store_dir, drv, &inputs, &outputs);
    let result = session
        .client
        .build(drv_path, &wire, settings)
        .map_err(proto)?;
    if !result.success() {
        return Err(fail(format!(
            "the build failed: {}",
            result.error_msg.trim()
        )));
    }
    // Outputs back, each after the outputs it refers to.
    let want: BTreeSet<StorePath> = outputs.values().cloned().collect();
    let mut infos = session.client.query_path_infos(&want).map_err(proto)?;
    if infos.len() != want.len() {
        return Err(fail("the remote did not produce every output".into()));
    }
    let mut added: BTreeSet<StorePath> = BTreeSet::new();
    while !infos.is_empty() {
        let Some(i) = infos.iter().position(|info| {
            info.references
                .iter()
                .all(|r| r == &info.path || !want.contains(r) || added.contains(r))
        }) else {
            return Err(fail("the outputs refer to one another in a cycle".into()));
        };
        let mut info = infos.remove(i);
        info.deriver = Some(drv_path.clone());
        info.sigs.clear();
        if lock(store).is_valid(&info.path)? {
            added.insert(info.path.clone());
            continue;
        }
        let mut file =
            tempfile::tempfile().map_err(|e| fail(format!("spooling an output: {e}")))?;
        session.client.dump(&info.path, &mut file).map_err(proto)?;
        file.rewind()
            .map_err(|e| fail(format!("spooling an output: {e}")))?;
        lock(store)
            .add_nar(&info, &mut io::BufReader::new(file))
            .map_err(|e| fail(format!("registering an output: {e}")))?;
        added.insert(info.path.clone());
    }
    *lock(&session.sink) = None;
    pool.put(&machine.uri, session);
    Ok(BuiltDerivation {
        outputs,
        sandbox_time: std::time::Duration::ZERO,
        elapsed: start.elapsed(),
    })
}

/// A local path's NAR written to an anonymous temporary file, ready to be read.
fn spool_nar(real: &std::path::Path) -> io::Result<io::BufReader<std::fs::File>> {
    let mut file = tempfile::tempfile()?;
    {
        let mut w = io::BufWriter::new(&mut file);
        nixkit_store::nar::dump_path(real, &mut w).map_err(|e| io::Error::other(e.to_string()))?;
        io::Write::flush(&mut w)?;
    }
    file.rewind()?;
    Ok(io::BufReader::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_read_as_cppnix_writes_them() {
        let m = parse_machines(
            "# comment\nssh://root@a x86_64-linux,aarch64-linux /k 4 2 kvm,big-parallel benchmark ;\nb",
            "x86_64-linux",
        )
        .expect("parses");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].uri, "ssh://root@a");
        assert_eq!(m[0].systems, ["x86_64-linux", "aarch64-linux"]);
        assert_eq!(m[0].ssh_key.as_deref(), Some(std::path::Path::new("/k")));
        assert_eq!((m[0].max_jobs, m[0].speed_factor), (4, 2.0));
        assert!(
            m[0].supported_features.contains("benchmark"),
            "mandatory is supported"
        );
        assert_eq!(m[1].uri, "ssh://b");
        assert_eq!(m[1].systems, ["x86_64-linux"]);
        assert_eq!(m[1].max_jobs, 1);
        assert!(parse_machines("a x86_64-linux - many", "x").is_err());
        assert!(parse_machines("a x86_64-linux - 1 0", "x").is_err());
        assert!(parse_machines("http://a", "x").is_err());
        let ng = &parse_machines("ssh-ng://u@h x86_64-linux", "x").expect("parses")[0];
        assert!(ng.is_ssh_ng());
        assert_eq!(ng.host(), "u@h");
        assert!(!m[0].is_ssh_ng());
        assert_eq!(m[0].host(), "root@a");
    }

    #[test]
    fn features_choose_machines() {
        let m = &parse_machines("a x86_64-linux - 1 1 kvm benchmark", "x").expect("parses")[0];
        let mut drv = Derivation {
            name: "t".into(),
            outputs: BTreeMap::new(),
            input_drvs: BTreeMap::new(),
            input_srcs: BTreeSet::new(),
            system: "x86_64-linux".into(),
            builder: "/bin/sh".into(),
            args: vec![],
            env: BTreeMap::new(),
        };
        assert!(!m.fits(&drv), "mandatory feature not asked for");
        drv.env
            .insert("requiredSystemFeatures".into(), "benchmark kvm".into());
        assert!(m.fits(&drv));
        drv.env
            .insert("requiredSystemFeatures".into(), "benchmark cuda".into());
        assert!(!m.fits(&drv), "unsupported feature");
        drv.env
            .insert("requiredSystemFeatures".into(), "benchmark".into());
        drv.system = "aarch64-linux".into();
        assert!(!m.fits(&drv), "other system");
    }
}
