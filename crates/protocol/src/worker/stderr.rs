//! The daemon's log stream: while it works on an operation it sends log lines, activity
//! starts/stops/results, requests for data (`STDERR_READ`), data (`STDERR_WRITE`), and
//! finally `STDERR_LAST` (success, the reply follows) or `STDERR_ERROR`.

use std::fmt;
use std::io::{Read, Write};

use crate::wire::{self, Limits, WireError, WireResult};

/// A log line follows.
pub const STDERR_NEXT: u64 = 0x6f6c_6d67;
/// The daemon asks the client for up to N bytes of the operation's data.
pub const STDERR_READ: u64 = 0x6461_7461;
/// The daemon sends data for the client's sink.
pub const STDERR_WRITE: u64 = 0x6461_7416;
/// The operation succeeded; its reply follows.
pub const STDERR_LAST: u64 = 0x616c_7473;
/// The operation failed.
pub const STDERR_ERROR: u64 = 0x6378_7470;
/// An activity starts.
pub const STDERR_START_ACTIVITY: u64 = 0x5354_5254;
/// An activity stops.
pub const STDERR_STOP_ACTIVITY: u64 = 0x5354_4f50;
/// An activity reports a result (progress, build log line, ...).
pub const STDERR_RESULT: u64 = 0x5253_4c54;

/// A field of an activity or result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogField {
    /// Type 0.
    Int(u64),
    /// Type 1.
    String(String),
}

/// An error the daemon reports. From 1.26 it has a level and a trace; before, a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The verbosity level (0 = error).
    pub level: u64,
    /// The message (may hold ANSI colour codes, as CppNix formats them).
    pub message: String,
    /// The trace lines, innermost last as CppNix sends them.
    pub traces: Vec<String>,
    /// The exit status (protocol before 1.26; 1 otherwise).
    pub status: u64,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for t in &self.traces {
            write!(f, "\n  … {t}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteError {}

/// One message of the log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StderrMsg {
    /// A log line.
    Next(String),
    /// A request for at most this many bytes of data.
    Read(u64),
    /// Data for the client.
    Write(Vec<u8>),
    /// The end of the stream: success.
    Last,
    /// The end of the stream: failure.
    Error(RemoteError),
    /// An activity starts.
    StartActivity {
        /// Its id.
        id: u64,
        /// Its verbosity level.
        level: u64,
        /// Its type (CppNix's `ActivityType`).
        kind: u64,
        /// Its description.
        text: String,
        /// Its fields.
        fields: Vec<LogField>,
        /// The parent activity's id (0: none).
        parent: u64,
    },
    /// An activity stops.
    StopActivity {
        /// Its id.
        id: u64,
    },
    /// An activity's result.
    Result {
        /// The activity's id.
        id: u64,
        /// The result type (CppNix's `ResultType`).
        kind: u64,
        /// Its fields.
        fields: Vec<LogField>,
    },
}

fn read_text(r: &mut impl Read, limits: &Limits, what: &'static str) -> WireResult<String> {
    // Log text is not always UTF-8 (builders print anything): keep it, lossily.
    Ok(String::from_utf8_lossy(&wire::read_bytes(r, limits, what)?).into_owned())
}

fn read_fields(r: &mut impl Read, limits: &Limits) -> WireResult<Vec<LogField>> {
    let n = wire::read_count(r, limits, "log fields")?;
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        match wire::read_u64(r, "log field type")? {
            0 => out.push(LogField::Int(wire::read_u64(r, "log field")?)),
            1 => out.push(LogField::String(read_text(r, limits, "log field")?)),
            t => {
                return Err(WireError::BadValue {
                    what: "log field type",
                    detail: format!("{t} (expected 0 or 1)"),
                })
            }
        }
    }
    Ok(out)
}

fn write_fields(w: &mut impl Write, fields: &[LogField]) -> WireResult<()> {
    wire::write_u64(w, fields.len() as u64)?;
    for f in fields {
        match f {
            LogField::Int(i) => {
                wire::write_u64(w, 0)?;
                wire::write_u64(w, *i)?;
            }
            LogField::String(s) => {
                wire::write_u64(w, 1)?;
                wire::write_bytes(w, s.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// Reads an error in the format of the negotiated `version`.
pub fn read_error(r: &mut impl Read, limits: &Limits, version: u64) -> WireResult<RemoteError> {
    if super::minor(version) >= 26 {
        let kind = read_text(r, limits, "error type")?;
        if kind != "Error" {
            return Err(WireError::BadValue {
                what: "error type",
                detail: format!("{kind:?} (expected \"Error\")"),
            });
        }
        let level = wire::read_u64(r, "error level")?;
        let _name = read_text(r, limits, "error name")?;
        let message = read_text(r, limits, "error message")?;
        if wire::read_u64(r, "error position flag")? != 0 {
            return Err(WireError::BadValue {
                what: "error position",
                detail: "positions are never sent by CppNix 2.8".into(),
            });
        }
        let n = wire::read_count(r, limits, "error traces")?;
        let mut traces = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            if wire::read_u64(r, "trace position flag")? != 0 {
                return Err(WireError::BadValue {
                    what: "trace position",
                    detail: "positions are never sent by CppNix 2.8".into(),
                });
            }
            traces.push(read_text(r, limits, "error trace")?);
        }
        Ok(RemoteError {
            level,
            message,
            traces,
            status: 1,
        })
    } else {
        let message = read_text(r, limits, "error message")?;
        let status = wire::read_u64(r, "error status")?;
        Ok(RemoteError {
            level: 0,
            message,
            traces: Vec::new(),
            status,
        })
    }
}

/// Writes an error in the format of the negotiated `version`.
pub fn write_error(w: &mut impl Write, err: &RemoteError, version: u64) -> WireResult<()> {
    if super::minor(version) >= 26 {
        wire::write_bytes(w, b"Error")?;
        wire::write_u64(w, err.level)?;
        wire::write_bytes(w, b"Error")?;
        wire::write_bytes(w, err.message.as_bytes())?;
        wire::write_u64(w, 0)?;
        wire::write_u64(w, err.traces.len() as u64)?;
        for t in &err.traces {
            wire::write_u64(w, 0)?;
            wire::write_bytes(w, t.as_bytes())?;
        }
        Ok(())
    } else {
        wire::write_bytes(w, err.message.as_bytes())?;
        wire::write_u64(w, err.status.max(1))
    }
}

/// Why a log message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadStderrError {
    /// The stream failed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A code this side does not know.
    #[error("unknown log message code {0:#x}")]
    UnknownCode(u64),
}

impl StderrMsg {
    /// Reads one message.
    pub fn read(r: &mut impl Read, limits: &Limits, version: u64) -> Result<Self, ReadStderrError> {
        let code = wire::read_u64(r, "log message code")?;
        Ok(match code {
            STDERR_NEXT => StderrMsg::Next(read_text(r, limits, "log line")?),
            STDERR_READ => StderrMsg::Read(wire::read_u64(r, "read request size")?),
            STDERR_WRITE => StderrMsg::Write(wire::read_bytes(r, limits, "data")?),
            STDERR_LAST => StderrMsg::Last,
            STDERR_ERROR => StderrMsg::Error(read_error(r, limits, version)?),
            STDERR_START_ACTIVITY => StderrMsg::StartActivity {
                id: wire::read_u64(r, "activity id")?,
                level: wire::read_u64(r, "activity level")?,
                kind: wire::read_u64(r, "activity type")?,
                text: read_text(r, limits, "activity text")?,
                fields: read_fields(r, limits)?,
                parent: wire::read_u64(r, "activity parent")?,
            },
            STDERR_STOP_ACTIVITY => StderrMsg::StopActivity {
                id: wire::read_u64(r, "activity id")?,
            },
            STDERR_RESULT => StderrMsg::Result {
                id: wire::read_u64(r, "activity id")?,
                kind: wire::read_u64(r, "result type")?,
                fields: read_fields(r, limits)?,
            },
            other => return Err(ReadStderrError::UnknownCode(other)),
        })
    }

    /// Writes one message.
    pub fn write(&self, w: &mut impl Write, version: u64) -> WireResult<()> {
        match self {
            StderrMsg::Next(s) => {
                wire::write_u64(w, STDERR_NEXT)?;
                wire::write_bytes(w, s.as_bytes())
            }
            StderrMsg::Read(n) => {
                wire::write_u64(w, STDERR_READ)?;
                wire::write_u64(w, *n)
            }
            StderrMsg::Write(data) => {
                wire::write_u64(w, STDERR_WRITE)?;
                wire::write_bytes(w, data)
            }
            StderrMsg::Last => wire::write_u64(w, STDERR_LAST),
            StderrMsg::Error(e) => {
                wire::write_u64(w, STDERR_ERROR)?;
                write_error(w, e, version)
            }
            StderrMsg::StartActivity {
                id,
                level,
                kind,
                text,
                fields,
                parent,
            } => {
                wire::write_u64(w, STDERR_START_ACTIVITY)?;
                wire::write_u64(w, *id)?;
                wire::write_u64(w, *level)?;
                wire::write_u64(w, *kind)?;
                wire::write_bytes(w, text.as_bytes())?;
                write_fields(w, fields)?;
                wire::write_u64(w, *parent)
            }
            StderrMsg::StopActivity { id } => {
                wire::write_u64(w, STDERR_STOP_ACTIVITY)?;
                wire::write_u64(w, *id)
            }
            StderrMsg::Result { id, kind, fields } => {
                wire::write_u64(w, STDERR_RESULT)?;
                wire::write_u64(w, *id)?;
                wire::write_u64(w, *kind)?;
                write_fields(w, fields)
            }
        }
    }
}
