//! osconf's commands as library functions, each with its options and a typed error:
//! `generate_config` (hardware and configuration templates), `rebuild` (`install` and
//! `rebuild ACTION`), `generations` (list, switch, delete, gc). The `osconf` binary only
//! parses arguments and prints.

pub mod generate_config;
pub mod generations;
pub mod rebuild;
