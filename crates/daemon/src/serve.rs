//! `nix-store --serve [--write]`: the serve protocol (2.7) over standard input and output,
//! which CppNix's `ssh://` stores, remote builders and `nix-copy-closure` speak to a remote
//! machine. Whoever reaches it has the store's permissions already (it runs as the user
//! that logged in), so nothing is refused for trust; writing (adding paths, building) needs
//! `--write`. The protocol has no error message: a failed command ends the session with
//! its error, which the caller prints on standard error, as CppNix does.

use std::collections::BTreeSet;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use nixkit_protocol::serve::client::{write_path_infos, ServeRequest};
use nixkit_protocol::serve::{self, BuildOptions};
use nixkit_protocol::worker::types::{BuildResult, Ctx, DerivedPath};
use nixkit_protocol::{wire, Limits, ProtocolError, WireError};
use nixkit_sandbox::{realise, BuildSettings, RealiseOptions};
use nixkit_store::local::{LocalStore, StoreConfig};

use crate::build::{build_basic, now, to_derivation, BUILT};
use crate::connection::{lock, ConnectionError, OpError};

/// How `--serve` runs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The store served.
    pub store: StoreConfig,
    /// `--write`: adding paths and building are allowed.
    pub write: bool,
    /// Settings of builds.
    pub build: BuildSettings,
}

fn proto(e: impl Into<ProtocolError>) -> OpError {
    OpError::Protocol(e.into())
}

fn wire_io(e: io::Error) -> OpError {
    proto(WireError::Io(e))
}

struct Session<'a, R: Read, W: Write> {
    reader: R,
    writer: W,
    store: Mutex<LocalStore>,
    ctx: Ctx,
    settings: &'a ServeSettings,
    build_lock: Mutex<()>,
}

impl<R: Read, W: Write> Session<'_, R, W> {
    fn require_write(&self) -> Result<(), OpError> {
        if self.settings.write {
            Ok(())
        } else {
            Err(OpError::NotPrivileged(
                "building paths or writing to this store is not allowed (use --write)",
            ))
        }
    }

    fn apply(&self, options: &BuildOptions) -> BuildSettings {
        let mut build = self.settings.build.clone();
        if options.max_silent_time > 0 {
            build.max_silent_time = Some(Duration::from_secs(options.max_silent_time));
        }
        if options.build_timeout > 0 {
            build.timeout = Some(Duration::from_secs(options.build_timeout));
        }
        if options.max_log_size > 0 {
            build.max_log_size = Some(options.max_log_size);
        }
        build.keep_failed |= options.keep_failed;
        build
    }

    fn handle(&mut self, request: ServeRequest) -> Result<(), OpError> {
        match request {
            ServeRequest::QueryValidPaths {
                lock: take_roots,
                paths,
                ..
            } => {
                let store = lock(&self.store);
                let mut valid = BTreeSet::new();
                for p in paths {
                    if take_roots {
                        store
                            .add_temp_root(&p)
                            .map_err(OpError::io("adding a temporary root"))?;
                    }
                    if store.is_valid(&p)? {
                        valid.insert(p);
                    }
                }
                wire::write_paths(&mut self.writer, &self.ctx.store, valid.iter()).map_err(proto)
            }
            ServeRequest::QueryPathInfos(paths) => {
                let store = lock(&self.store);
                let mut infos = Vec::new();
                for p in &paths {
                    if let Some(info) = store.query_path_info(p)? {
                        infos.push(info);
                    }
                }
                write_path_infos(&mut self.writer, &self.ctx, &infos).map_err(proto)
            }
            ServeRequest::DumpStorePath(p) => {
                let store = lock(&self.store);
                if !store.is_valid(&p)? {
                    return Err(OpError::NotValid(store.store_dir().print_path(&p)));
                }
                nixkit_store::nar::dump_path(&store.real_path(&p), &mut self.writer)
                    .map_err(|e| OpError::Invalid(e.to_string()))
            }
            ServeRequest::ImportPaths => {
                self.require_write()?;
                let store = lock(&self.store);
                nixkit_store::export::import_paths(&store, &mut self.reader)?;
                wire::write_u64(&mut self.writer, 1).map_err(proto)
            }
            ServeRequest::ExportPaths(paths) => {
                let store = lock(&self.store);
                nixkit_store::export::export_paths(&store, &paths, &mut self.writer)
                    .map_err(|e| OpError::Invalid(e.to_string()))?;
                wire::write_u64(&mut self.writer, 0).map_err(proto)
            }
            ServeRequest::QueryClosure {
                include_outputs,
                paths,
            } => {
                let store = lock(&self.store);
                let mut roots = paths.clone();
                if include_outputs {
                    for p in &paths {
                        if p.name().ends_with(".drv") && store.is_valid(p)? {
                            let drv = nixkit_sandbox::read_derivation(&store, p)?;
                            let outs =
                                nixkit_sandbox::register::output_paths(store.store_dir(), &drv)
                                    .map_err(|e| OpError::Invalid(e.to_string()))?;
                            for o in outs.into_values() {
                                if store.is_valid(&o)? {
                                    roots.insert(o);
                                }
                            }
                        }
                    }
                }
                let closure = store.query_closure(&roots)?;
                wire::write_paths(&mut self.writer, &self.ctx.store, closure.iter()).map_err(proto)
            }
            ServeRequest::AddToStoreNar(info) => {
                self.require_write()?;
                let mut nar = (&mut self.reader).take(info.nar_size);
                let result = (|| -> Result<(), OpError> {
                    let store = lock(&self.store);
                    if store.is_valid(&info.path)? {
                        return Ok(());
                    }
                    Ok(store.add_nar(&info, &mut nar)?)
                })();
                io::copy(&mut nar, &mut io::sink()).map_err(wire_io)?;
                result?;
                wire::write_u64(&mut self.writer, 1).map_err(proto)
            }
            ServeRequest::BuildPaths { paths, options } => {
                self.require_write()?;
                let mut drvs = Vec::new();
                for p in &paths {
                    match p {
                        DerivedPath::Built { drv, .. } => drvs.push(drv.clone()),
                        DerivedPath::Opaque(path) => {
                            if !lock(&self.store).is_valid(path)? {
                                return Err(OpError::NotValid(self.ctx.store.print_path(path)));
                            }
                        }
                    }
                }
                let opts = RealiseOptions {
                    settings: self.apply(&options),
                    ..RealiseOptions::default()
                };
                let result = {
                    let _builds = lock(&self.build_lock);
                    realise(&self.store, &drvs, &opts, &|_| {})
                };
                match result {
                    Ok(_) => wire::write_u64(&mut self.writer, 0).map_err(proto),
                    Err(e) => {
                        wire::write_u64(&mut self.writer, 3).map_err(proto)?;
                        wire::write_bytes(&mut self.writer, e.to_string().as_bytes()).map_err(proto)
                    }
                }
            }
            ServeRequest::BuildDerivation {
                drv_path,
                drv,
                options,
            } => {
                self.require_write()?;
                let drv = to_derivation(&drv_path, drv)?;
                let settings = self.apply(&options);
                let start = now();
                // The build log goes to our standard error, which ssh hands to the caller.
                let mut on_output = |data: &[u8]| {
                    let _ = io::stderr().write_all(data);
                };
                let (status, error_msg) = build_basic(
                    &self.store,
                    &settings,
                    &self.build_lock,
                    &drv_path,
                    &drv,
                    &mut on_output,
                )?;
                let result = BuildResult {
                    status,
                    error_msg,
                    times_built: u64::from(status == BUILT),
                    start_time: start,
                    stop_time: now(),
                    ..BuildResult::default()
                };
                result
                    .write(&mut self.writer, self.ctx.minor >= 3, self.ctx.minor >= 6)
                    .map_err(proto)
            }
        }
    }
}

/// Serves the serve protocol on `reader`/`writer` until the client hangs up.
pub fn serve_store(
    reader: impl Read,
    writer: impl Write,
    settings: &ServeSettings,
) -> Result<(), ConnectionError> {
    let store = LocalStore::open(settings.store.clone())?;
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let version = serve::server_handshake(&mut reader, &mut writer)?;
    let ctx = Ctx {
        store: store.store_dir().clone(),
        limits: Limits::default(),
        minor: serve::minor(version),
    };
    let mut session = Session {
        reader,
        writer,
        store: Mutex::new(store),
        ctx,
        settings,
        build_lock: Mutex::new(()),
    };
    loop {
        let request = match ServeRequest::read(&mut session.reader, &session.ctx) {
            Ok(r) => r,
            Err(ProtocolError::Wire(WireError::Truncated { .. })) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = session.handle(request) {
            let _ = session.writer.flush();
            return Err(match e {
                OpError::Protocol(p) => p.into(),
                other => io::Error::other(other.to_string()).into(),
            });
        }
        session.writer.flush()?;
    }
}
