//! `osconf generate-config --root DIR`, as `nixos-generate-config --root`: inspects the
//! target (the mounts under DIR from `/proc/self/mountinfo`, their file system types,
//! devices named by UUID or label where `/dev/disk/by-uuid` and `/dev/disk/by-label`
//! resolve, bind mounts, the host name) and writes `DIR/etc/osconf/hardware-configuration.nix`
//! (always regenerated) and a commented `configuration.nix` importing it (never
//! overwritten without `force`).

use std::io;
use std::path::{Path, PathBuf};

use crate::nix_string;
use crate::target::Target;

/// Why generating the configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateConfigError {
    /// The mount table could not be read.
    #[error("reading the mount table {path}: {source}")]
    MountTable {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Options of `generate-config`.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Overwrite an existing `configuration.nix`.
    pub force: bool,
    /// Only return the hardware configuration; write nothing.
    pub show_hardware_config: bool,
    /// The mount table (default `/proc/self/mountinfo`).
    pub mountinfo: Option<PathBuf>,
}

/// What `generate-config` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The hardware configuration's text.
    pub hardware: String,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// The existing `configuration.nix` that was left as it was, if any.
    pub kept: Option<PathBuf>,
}

/// One line of a mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the device.
    pub dev: String,
    /// The directory of the file system mounted (not `/` for a bind mount of a directory).
    pub fs_root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// The file system type.
    pub fs_type: String,
    /// The mount source (a device, or a name like `tmpfs`).
    pub source: String,
}

/// One `fileSystems` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSystem {
    /// The mount point inside the target.
    pub mount_point: String,
    /// `device`, or `label` (with `by_label`).
    pub device: String,
    /// Whether `device` is a label.
    pub by_label: bool,
    /// The file system type.
    pub fs_type: String,
    /// Mount options (only those that are needed, e.g. `bind`).
    pub options: Vec<String>,
    /// A comment above the entry.
    pub note: Option<String>,
}

/// File system types that are not the system's storage.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "bpf",
    "binfmt_misc",
    "autofs",
    "nsfs",
    "rpc_pipefs",
    "efivarfs",
    "selinuxfs",
    "ramfs",
];

/// Decodes escapes of `radix` digits after `lead` (the kernel's `\040`, udev's `\x20`).
fn decode(field: &str, lead: &str, width: usize, radix: u32) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let end = i + lead.len() + width;
        if bytes[i..].starts_with(lead.as_bytes()) && end <= bytes.len() {
            if let Some(b) = field
                .get(i + lead.len()..end)
                .and_then(|d| u8::from_str_radix(d, radix).ok())
            {
                out.push(b);
                i = end;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes the kernel's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    decode(field, "\\", 3, 8)
}

/// Parses `/proc/self/mountinfo`; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                dev: l.get(2)?.to_string(),
                fs_root: unescape(l.get(3)?),
                mount_point: unescape(l.get(4)?),
                fs_type: r.first()?.to_string(),
                source: unescape(r.get(1)?),
            })
        })
        .collect()
}

/// The name under `dir` (`/dev/disk/by-uuid`) whose link resolves to `device`.
fn disk_name(dir: &Path, device: &str) -> Option<String> {
    let wanted = std::fs::canonicalize(device).ok()?;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| std::fs::canonicalize(e.path()).is_ok_and(|p| p == wanted))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().next()
}

/// The mount point `mp` as the target at `root` sees it, when it is in the target.
fn inside(root: &str, mp: &str) -> Option<String> {
    if root == "/" {
        return Some(mp.to_owned());
    }
    if mp == root {
        return Some("/".into());
    }
    mp.strip_prefix(root)
        .filter(|rest| rest.starts_with('/'))
        .map(str::to_owned)
}

/// The `fileSystems` of the target at `root` (absolute, no trailing `/`) from a mount
/// table: the mounts under it (the last of several on one point), without pseudo file
/// systems and the store. When `root` is no mount point, the file system holding it is
/// its `/`.
pub fn file_systems(mounts: &[Mount], root: &str) -> Vec<FileSystem> {
    let mut by_point: Vec<(String, &Mount)> = Vec::new();
    for m in mounts {
        let Some(mp) = inside(root, &m.mount_point) else {
            continue;
        };
        if PSEUDO.contains(&m.fs_type.as_str()) || mp == "/nix/store" {
            continue;
        }
        by_point.retain(|(p, _)| *p != mp);
        by_point.push((mp, m));
    }
    let mut note = None;
    if !by_point.iter().any(|(p, _)| p == "/") {
        let holder = mounts
            .iter()
            .filter(|m| inside(&m.mount_point, root).is_some() || m.mount_point == "/")
            .max_by_key(|m| m.mount_point.len());
        if let Some(m) = holder {
            by_point.push(("/".into(), m));
            note = Some(format!(
                "The target root is not a mount point: this is the file system holding it ({}).",
                m.mount_point
            ));
        }
    }
    by_point.sort_by(|a, b| a.0.cmp(&b.0));
    by_point
        .into_iter()
        .map(|(mp, m)| {
            let mut fs = entry(mounts, root, m);
            fs.mount_point = mp.clone();
            if mp == "/" {
                fs.note = note.clone();
            }
            fs
        })
        .collect()
}

/// The entry for mount `m`: a bind mount names its source directory, a device its UUID
/// or label where those resolve.
fn entry(mounts: &[Mount], root: &str, m: &Mount) -> FileSystem {
    let mut fs = FileSystem {
        mount_point: String::new(),
        device: m.source.clone(),
        by_label: false,
        fs_type: m.fs_type.clone(),
        options: Vec::new(),
        note: None,
    };
    if m.fs_root != "/" {
        // A bind mount: its source is where the same directory is mounted whole.
        let whole = mounts
            .iter()
            .find(|o| o.dev == m.dev && o.fs_root == "/" && o.mount_point != m.mount_point);
        if let Some(o) = whole {
            let host = format!("{}{}", o.mount_point.trim_end_matches('/'), m.fs_root);
            fs.device = inside(root, &host).unwrap_or(host);
            fs.fs_type = "none".into();
            fs.options = vec!["bind".into()];
            return fs;
        }
    }
    if m.source.starts_with("/dev/") {
        if let Some(uuid) = disk_name(Path::new("/dev/disk/by-uuid"), &m.source) {
            fs.device = format!("/dev/disk/by-uuid/{uuid}");
        } else if let Some(label) = disk_name(Path::new("/dev/disk/by-label"), &m.source) {
            fs.device = decode(&label, "\\x", 2, 16);
            fs.by_label = true;
        }
    }
    fs
}

/// `hardware-configuration.nix` for `file_systems`.
pub fn hardware_text(file_systems: &[FileSystem]) -> String {
    let mut out = String::from(
        "# Do not modify this file! It was generated by 'osconf generate-config' and is\n\
         # overwritten when it runs again. Make your changes in configuration.nix instead.\n\
         { config, lib, pkgs, ... }:\n\n{\n",
    );
    for fs in file_systems {
        if let Some(note) = &fs.note {
            out.push_str(&format!("  # {note}\n"));
        }
        let source = if fs.by_label { "label" } else { "device" };
        out.push_str(&format!(
            "  fileSystems.{} =\n    {{ {source} = {};\n      fsType = {};\n",
            nix_string(&fs.mount_point),
            nix_string(&fs.device),
            nix_string(&fs.fs_type)
        ));
        if !fs.options.is_empty() {
            let opts: Vec<String> = fs.options.iter().map(|o| nix_string(o)).collect();
            out.push_str(&format!("      options = [ {} ];\n", opts.join(" ")));
        }
        out.push_str("    };\n\n");
    }
    if out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str("}\n");
    out
}

/// Whether `name` is a valid host name.
fn valid_host_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The target's host name: its `/etc/hostname`, else this machine's, else `osconf`.
fn host_name(target: &Target) -> String {
    let own = std::fs::read_to_string(target.root().join("etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned());
    let host = || {
        nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned())
    };
    own.filter(|h| valid_host_name(h))
        .or_else(|| host().filter(|h| valid_host_name(h)))
        .unwrap_or_else(|| "osconf".into())
}

/// The commented `configuration.nix` template.
pub fn configuration_text(host_name: &str) -> String {
    format!(
        r#"# The whole system in one file: edit it, then run 'osconf rebuild switch' (add
# '--root DIR' for a system kept under DIR; 'osconf install --root DIR' makes its first
# generation). Options: crates/osconf/nix/modules; packages: the example package set.
{{ config, lib, pkgs, ... }}:

{{
  imports = [ ./hardware-configuration.nix ];

  networking.hostName = {host};

  # time.timeZone = "Europe/Amsterdam";

  # A user account: a home in /home (created by activation), group `users'.
  # users.users.alice = {{
  #   isNormalUser = true;
  #   description = "Alice";
  #   extraGroups = [ "wheel" ];
  # }};

  # Packages of the system's environment (/run/current-system/sw/bin).
  environment.systemPackages = [ pkgs.hello ];

  # Files of /etc.
  # environment.etc."motd".text = "Welcome to ${{config.networking.hostName}}.";

  # An HTTP server serving a directory.
  # services.httpd = {{
  #   enable = true;
  #   port = 8080;
  #   documentRoot = pkgs.writeTextDir "index.html" "<h1>Hello</h1>";
  # }};
}}
"#,
        host = nix_string(host_name)
    )
}

/// Writes `text` to `path` by rename.
fn write_file(path: &Path, text: &str) -> Result<(), GenerateConfigError> {
    let err = |source| GenerateConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".osconf-tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// `osconf generate-config`.
pub fn generate_config(
    target: &Target,
    opts: &GenerateOptions,
) -> Result<Generated, GenerateConfigError> {
    let table = opts
        .mountinfo
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/mountinfo"));
    let text =
        std::fs::read_to_string(&table).map_err(|source| GenerateConfigError::MountTable {
            path: table.clone(),
            source,
        })?;
    let root = target.root().to_string_lossy();
    let root = if root == "/" {
        "/"
    } else {
        root.trim_end_matches('/')
    };
    let hardware = hardware_text(&file_systems(&parse_mountinfo(&text), root));
    let mut generated = Generated {
        hardware: hardware.clone(),
        written: Vec::new(),
        kept: None,
    };
    if opts.show_hardware_config {
        return Ok(generated);
    }
    let dir = target.config_dir();
    let hw = dir.join("hardware-configuration.nix");
    write_file(&hw, &hardware)?;
    generated.written.push(hw);
    let config = dir.join("configuration.nix");
    if config.exists() && !opts.force {
        generated.kept = Some(config);
    } else {
        write_file(&config, &configuration_text(&host_name(target)))?;
        generated.written.push(config);
    }
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:5 / /proc rw - proc proc rw
30 22 8:2 / /mnt/t rw shared:2 - xfs /dev/sdb1 rw
31 30 8:3 / /mnt/t/home\\040dir rw - ext4 /dev/sdc1 rw
32 30 0:40 / /mnt/t/tmp rw - tmpfs tmpfs rw
33 30 8:1 /srv/data /mnt/t/data rw - ext4 /dev/sda1 rw
34 30 0:41 / /mnt/t/nix/store rw - overlay overlay rw
35 30 0:42 / /mnt/t/tmp rw - tmpfs tmpfs2 rw
bad line
";

    #[test]
    fn mounts_under_the_root_become_file_systems() {
        let mounts = parse_mountinfo(TABLE);
        assert_eq!(mounts.len(), 8);
        assert_eq!(mounts[3].mount_point, "/mnt/t/home dir");
        let fs = file_systems(&mounts, "/mnt/t");
        let points: Vec<&str> = fs.iter().map(|f| f.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/data", "/home dir", "/tmp"]);
        assert_eq!(fs[0].fs_type, "xfs");
        assert!(fs[0].note.is_none());
        // A bind mount names its source directory; the later of two mounts on one point wins.
        assert_eq!(
            (fs[1].device.as_str(), fs[1].fs_type.as_str()),
            ("/srv/data", "none")
        );
        assert_eq!(fs[1].options, ["bind"]);
        assert_eq!(fs[3].device, "tmpfs2");
        let text = hardware_text(&fs);
        assert!(text.contains("fileSystems.\"/home dir\" ="), "{text}");
        assert!(text.contains("options = [ \"bind\" ];"), "{text}");
    }

    #[test]
    fn a_root_that_is_no_mount_point_gets_the_file_system_holding_it() {
        let mounts = parse_mountinfo(TABLE);
        let fs = file_systems(&mounts, "/var/scratch");
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].mount_point, "/");
        assert_eq!(fs[0].fs_type, "ext4");
        assert!(fs[0]
            .note
            .as_deref()
            .unwrap_or("")
            .contains("not a mount point"));
        let fs = file_systems(&mounts, "/mnt/t/home dir/x");
        assert_eq!(fs[0].mount_point, "/");
        assert_eq!(fs[0].device, mounts[3].source);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("a\\040b\\134"), "a b\\");
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(decode("my\\x20disk", "\\x", 2, 16), "my disk");
    }

    #[test]
    fn host_names() {
        assert!(valid_host_name("web-1"));
        assert!(!valid_host_name("-web"));
        assert!(!valid_host_name("a_b"));
        assert!(!valid_host_name(""));
    }
}
