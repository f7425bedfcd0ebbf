//! `nixkit build` / `nix-build`: evaluate a file (or `-E` expression) with the local store
//! as the evaluator's store (so `.drv` files are written), realise the derivations with
//! [`nixkit_sandbox::realise`], create `result` symlinks registered as GC roots, and print
//! the output paths.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nixkit_eval::Evaluator;
use nixkit_sandbox::{realise, Event, RealiseOptions};
use nixkit_store::binary_cache::{open_cache, PublicKey};
use nixkit_store::local::LocalStore;
use nixkit_store::StoreDir;

use nixkit_eval::local_store::{open_local_store, LocalEvalStore};

const USAGE: &str = "usage: nix-build [FILE] [-A ATTR] [--arg NAME EXPR] [--argstr NAME STR] [-E]
  [-o LINK | --no-out-link] [-j N] [--cores N] [--keep-going] [--check] [--keep-failed]
  [--max-silent-time S] [--timeout S] [--max-log-size BYTES] [--option NAME VALUE]
  [--store DIR] [--substituters URLS] [--builders SPEC]
  [--trusted-public-keys KEYS] [-Q] [--show-trace]";

#[derive(Default)]
struct Opts {
    inputs: Vec<String>,
    from_expr: bool,
    attrs: Vec<String>,
    args: Vec<(String, String, bool)>,
    out_link: Option<String>,
    no_out_link: bool,
    store: Option<String>,
    quiet: bool,
    show_trace: bool,
    substituters: Vec<String>,
    trusted_keys: Vec<String>,
    realise: RealiseOptions,
    builders: Option<String>,
    help: bool,
}

fn parse(argv: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    o.realise.jobs = 1;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("flag '{flag}' requires an argument"))
        };
        let secs = |s: String| {
            s.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("invalid number of seconds '{s}'"))
        };
        match a.as_str() {
            "-A" | "--attr" => o.attrs.push(value(a)?),
            "--arg" => o.args.push((value(a)?, value(a)?, false)),
            "--argstr" => o.args.push((value(a)?, value(a)?, true)),
            "-E" | "--expr" => o.from_expr = true,
            "-o" | "--out-link" => o.out_link = Some(value(a)?),
            "--no-out-link" => o.no_out_link = true,
            "-j" | "--max-jobs" => {
                let v = value(a)?;
                o.realise.jobs = if v == "auto" {
                    std::thread::available_parallelism().map_or(1, usize::from)
                } else {
                    v.parse()
                        .map_err(|_| format!("invalid number of jobs '{v}'"))?
                };
            }
            s if s.len() > 2
                && s.starts_with("-j")
                && s[2..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                o.realise.jobs = s[2..]
                    .parse()
                    .map_err(|_| format!("invalid number of jobs '{}'", &s[2..]))?;
            }
            "--cores" => {
                o.realise.settings.cores = value(a)?
                    .parse()
                    .map_err(|_| "invalid --cores".to_string())?
            }
            "-k" | "--keep-going" => o.realise.keep_going = true,
            "--check" => o.realise.check = true,
            "-K" | "--keep-failed" => o.realise.settings.keep_failed = true,
            "--max-silent-time" => {
                o.realise.settings.max_silent_time = Some(secs(value(a)?)?).filter(|d| !d.is_zero())
            }
            "--timeout" => {
                o.realise.settings.timeout = Some(secs(value(a)?)?).filter(|d| !d.is_zero())
            }
            "--max-log-size" => {
                o.realise.settings.set_option("max-log-size", &value(a)?)?;
            }
            "--option" => {
                let (name, v) = (value(a)?, value(a)?);
                match name.as_str() {
                    "substituters" => {
                        o.substituters = v.split_whitespace().map(str::to_owned).collect()
                    }
                    "trusted-public-keys" => {
                        o.trusted_keys = v.split_whitespace().map(str::to_owned).collect()
                    }
                    "builders" => o.builders = Some(v),
                    _ => {
                        if !o.realise.settings.set_option(&name, &v)? {
                            eprintln!("warning: unknown setting '{name}'");
                        }
                    }
                }
            }
            "--store" => o.store = Some(value(a)?),
            "--builders" => o.builders = Some(value(a)?),
            "--substituters" => {
                o.substituters = value(a)?.split_whitespace().map(str::to_owned).collect()
            }
            "--trusted-public-keys" => {
                o.trusted_keys = value(a)?.split_whitespace().map(str::to_owned).collect()
            }
            "-Q" | "--no-build-output" => o.quiet = true,
            "--show-trace" => o.show_trace = true,
            "-h" | "--help" => o.help = true,
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unrecognised flag '{s}'\n{USAGE}"))
            }
            s => o.inputs.push(s.to_owned()),
        }
    }
    if let Some(spec) = &o.builders {
        o.realise.builders =
            nixkit_sandbox::remote::parse_machines(spec, &o.realise.settings.system)
                .map_err(|e| e.to_string())?;
    }
    Ok(o)
}

/// Nix string literal for `s`.
fn nix_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Entry point of the `build` command; returns the exit status.
pub(crate) fn main(argv: Vec<String>) -> i32 {
    let opts = match parse(&argv) {
        Ok(o) => o,
        Err(e) => {
            crate::output::error(&e);
            return 1;
        }
    };
    if opts.help {
        return match crate::output::line(USAGE) {
            Ok(()) => 0,
            Err(e) => crate::output::write_failed(&e),
        };
    }
    match run(opts) {
        Ok(code) => code,
        Err(e) => {
            crate::output::error(&e);
            1
        }
    }
}

fn open_store(o: &Opts) -> Result<LocalStore, String> {
    open_local_store(o.store.as_deref()).map_err(|e| e.to_string())
}

/// Evaluates the inputs and returns the derivations to build as (drv path, output).
fn evaluate(o: &Opts, ev: &mut Evaluator, cwd: &str) -> Result<Vec<(String, String)>, String> {
    let render = |e: nixkit_eval::EvalError| e.render(o.show_trace);
    let mut arg_text = String::from("{ ");
    for (name, v, is_str) in &o.args {
        let v = if *is_str {
            nix_string(v)
        } else {
            format!("({v})")
        };
        arg_text.push_str(&format!("{} = {v}; ", nix_string(name)));
    }
    arg_text.push('}');
    let auto_args = ev.eval_str(&arg_text, cwd).map_err(render)?;
    let inputs = if o.inputs.is_empty() {
        vec![if o.from_expr {
            String::new()
        } else {
            "./default.nix".into()
        }]
    } else {
        o.inputs.clone()
    };
    let mut out = Vec::new();
    for input in &inputs {
        let root = if o.from_expr {
            ev.eval_str(input, cwd).map_err(render)?
        } else {
            let mut p = Path::new(cwd).join(input);
            if p.is_dir() {
                p = p.join("default.nix");
            }
            ev.eval_file(&p.to_string_lossy()).map_err(render)?
        };
        let attrs = if o.attrs.is_empty() {
            vec![String::new()]
        } else {
            o.attrs.clone()
        };
        for attr in &attrs {
            let mut v = ev.auto_call(&root, &auto_args).map_err(render)?;
            for key in attr.split('.').filter(|k| !k.is_empty()) {
                v = ev.auto_call(&v, &auto_args).map_err(render)?;
                v = ev.get_attr(&v, key).map_err(render)?.ok_or_else(|| {
                    format!("attribute '{key}' in selection path '{attr}' not found")
                })?;
            }
            let v = ev.auto_call(&v, &auto_args).map_err(render)?;
            for d in ev.derivations(&v, &auto_args).map_err(render)? {
                out.push(ev.drv_path_and_output(&d).map_err(render)?);
            }
        }
    }
    Ok(out)
}

fn run(mut o: Opts) -> Result<i32, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    let cwd_s = cwd.to_string_lossy().into_owned();
    let store = Arc::new(LocalEvalStore::new(open_store(&o)?));
    let mut ev = Evaluator::builder()
        .store(store.clone())
        .home(std::env::var("HOME").ok())
        .show_trace(o.show_trace)
        .build();
    let targets = evaluate(&o, &mut ev, &cwd_s)?;
    drop(ev);
    let store = Arc::try_unwrap(store)
        .map_err(|_| "the evaluator still holds the store".to_string())?
        .into_inner();
    let store_dir = store.store_dir().clone();
    for url in &o.substituters {
        o.realise
            .substituters
            .push(open_cache(url, store_dir.clone()).map_err(|e| e.to_string())?);
    }
    for k in &o.trusted_keys {
        o.realise
            .trusted_keys
            .push(PublicKey::parse(k).map_err(|e| e.to_string())?);
    }
    let mut drvs = Vec::new();
    for (d, _) in &targets {
        let p = store_dir.parse_path(d).map_err(|e| e.to_string())?;
        if !drvs.contains(&p) {
            drvs.push(p);
        }
    }
    nixkit_sandbox::install_interrupt_handler().map_err(|e| e.to_string())?;
    let store = Mutex::new(store);
    let progress = Progress::new(o.quiet);
    let result = realise(&store, &drvs, &o.realise, &|e| {
        progress.event(&store_dir, e)
    });
    progress.finish();
    let realised = result.map_err(|e| e.to_string())?;
    let store = store.into_inner().unwrap_or_else(|e| e.into_inner());
    let link_base = o.out_link.clone().unwrap_or_else(|| "result".into());
    let mut n = 0;
    // A failing standard output must not stop the later result links from being made:
    // the first error is kept and reported at the end.
    let mut print_error = None;
    for (d, output) in &targets {
        let drv = store_dir.parse_path(d).map_err(|e| e.to_string())?;
        let Some(path) = realised.outputs.get(&drv).and_then(|m| m.get(output)) else {
            continue;
        };
        if !o.no_out_link && !o.realise.check {
            let mut link = link_base.clone();
            if n > 0 {
                link = format!("{link}-{}", n + 1);
            }
            if output != "out" {
                link = format!("{link}-{output}");
            }
            n += 1;
            let link = cwd.join(PathBuf::from(link));
            store
                .add_perm_root(path, &link)
                .map_err(|e| e.to_string())?;
        }
        if print_error.is_none() {
            print_error = crate::output::line(store_dir.print_path(path)).err();
        }
    }
    if o.realise.check {
        eprintln!(
            "checked {} derivation(s): outputs are reproducible",
            drvs.len()
        );
    }
    Ok(print_error.map_or(0, |e| crate::output::write_failed(&e)))
}

/// Progress: plain lines when stderr is not a terminal, a live status line when it is.
struct Progress {
    tty: bool,
    quiet: bool,
    state: Mutex<(usize, usize, usize, String)>,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            quiet,
            state: Mutex::new((0, 0, 0, String::new())),
        }
    }

    fn status(&self, st: &(usize, usize, usize, String)) -> String {
        format!("[{}/{} built, {} running] {}", st.1, st.0, st.2, st.3)
    }

    fn event(&self, store_dir: &StoreDir, e: Event<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        match e {
            Event::Planned { builds } => {
                st.0 = builds;
                if !self.tty && builds > 0 {
                    let _ = writeln!(err, "these {builds} derivations will be built");
                }
            }
            Event::Started { drv } => {
                st.2 += 1;
                st.3 = format!("building {}", drv.name());
                if !self.tty {
                    let _ = writeln!(err, "building '{}'...", store_dir.print_path(drv));
                }
            }
            Event::Output { data, .. } => {
                if !self.quiet {
                    let _ = err.write_all(data);
                }
            }
            Event::Finished { ok, .. } => {
                st.2 = st.2.saturating_sub(1);
                if ok {
                    st.1 += 1;
                }
            }
            Event::Substituted { path } => {
                if !self.tty {
                    let _ = writeln!(
                        err,
                        "copied '{}' from a binary cache",
                        store_dir.print_path(path)
                    );
                }
            }
        }
        if self.tty {
            let _ = write!(err, "{}", self.status(&st));
        }
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
