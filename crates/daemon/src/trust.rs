//! Who may connect and who is trusted, by CppNix's rules: `allowed-users` (default `*`) and
//! `trusted-users` (default `root`) list user names, `@group` names and `*`; a trusted user
//! is always allowed. The peer is identified by the kernel (`SO_PEERCRED`), never by what
//! the client says.

use std::os::fd::AsFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Group, Uid, User};

/// The user on the other end of a connection, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's process id (0 when unknown).
    pub pid: i32,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id.
    pub gid: u32,
    /// Its user name, when the user database knows the uid.
    pub user: Option<String>,
}

impl Peer {
    /// The credentials of the process connected on `socket`.
    pub fn of_socket(socket: &impl AsFd) -> std::io::Result<Self> {
        let cred = getsockopt(socket, PeerCredentials).map_err(std::io::Error::from)?;
        Ok(Self::from_ids(cred.pid(), cred.uid(), cred.gid()))
    }

    /// A peer from its ids, with its name looked up.
    pub fn from_ids(pid: i32, uid: u32, gid: u32) -> Self {
        let user = User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name);
        Self {
            pid,
            uid,
            gid,
            user,
        }
    }

    /// The user's name, or its uid in decimal when it has none (as CppNix prints it).
    pub fn name(&self) -> String {
        self.user.clone().unwrap_or_else(|| self.uid.to_string())
    }

    fn in_group(&self, group: &str) -> bool {
        let Ok(Some(g)) = Group::from_name(group) else {
            return false;
        };
        if g.gid == Gid::from_raw(self.gid) {
            return true;
        }
        self.user
            .as_deref()
            .is_some_and(|name| g.mem.iter().any(|m| m == name))
    }

    /// True if one entry of `list` (names, `@group`, `*`) names this peer.
    pub fn matches(&self, list: &[String]) -> bool {
        list.iter().any(|entry| {
            if entry == "*" {
                true
            } else if let Some(group) = entry.strip_prefix('@') {
                self.in_group(group)
            } else {
                self.user.as_deref() == Some(entry.as_str())
            }
        })
    }
}

/// The daemon's `allowed-users` and `trusted-users` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSettings {
    /// Who may connect (`allowed-users`).
    pub allowed_users: Vec<String>,
    /// Who is trusted (`trusted-users`): may add unsigned paths, set any option, repair.
    pub trusted_users: Vec<String>,
}

impl Default for TrustSettings {
    fn default() -> Self {
        Self {
            allowed_users: vec!["*".to_owned()],
            trusted_users: vec!["root".to_owned()],
        }
    }
}

/// How far a connection is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// May connect; ordinary operations only.
    Allowed,
    /// May do anything (CppNix's "trusted user").
    Trusted,
}

/// Why a peer was turned away.
#[derive(Debug, thiserror::Error)]
#[error("user '{user}' is not allowed to connect to the Nix daemon")]
pub struct NotAllowed {
    /// The peer's name.
    pub user: String,
}

impl TrustSettings {
    /// The trust of `peer`, or why it may not connect.
    pub fn judge(&self, peer: &Peer) -> Result<Trust, NotAllowed> {
        if peer.matches(&self.trusted_users) {
            Ok(Trust::Trusted)
        } else if peer.matches(&self.allowed_users) {
            Ok(Trust::Allowed)
        } else {
            Err(NotAllowed { user: peer.name() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Peer {
        Peer::from_ids(1, 0, 0)
    }

    fn nobody() -> Peer {
        Peer {
            pid: 1,
            uid: 4_000_000,
            gid: 4_000_000,
            user: Some("someone-else".to_owned()),
        }
    }

    #[test]
    fn defaults_trust_root_and_allow_everyone() {
        let s = TrustSettings::default();
        assert_eq!(s.judge(&root()).expect("root"), Trust::Trusted);
        assert_eq!(s.judge(&nobody()).expect("allowed"), Trust::Allowed);
    }

    #[test]
    fn lists_of_names_and_groups_decide() {
        let s = TrustSettings {
            allowed_users: vec!["@root".to_owned()],
            trusted_users: vec![],
        };
        // root's primary group is root.
        assert_eq!(s.judge(&root()).expect("root"), Trust::Allowed);
        let err = s.judge(&nobody()).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "user 'someone-else' is not allowed to connect to the Nix daemon"
        );
        let s = TrustSettings {
            allowed_users: vec![],
            trusted_users: vec!["someone-else".to_owned()],
        };
        assert_eq!(s.judge(&nobody()).expect("trusted"), Trust::Trusted);
        assert!(s.judge(&root()).is_err());
    }

    #[test]
    fn an_unnamed_uid_prints_as_a_number() {
        let p = Peer::from_ids(1, 3_999_999, 3_999_999);
        assert_eq!(p.name(), "3999999");
        assert!(
            !p.matches(&["3999999".to_owned()]),
            "names, not numbers, match"
        );
    }
}
