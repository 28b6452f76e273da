//! The go-ucfg layer under the agent's configuration: a settings tree with go-ucfg's merge
//! rules ([`tree`]), the `-E key=value` grammar ([`flag`]), `${VAR}` expansion (`expand`),
//! a Beat's `path.*` directories ([`paths`]), typed values that keep their key for errors
//! ([`values`]) and module files read by a glob ([`modules_d`]). It knows no Metricbeat
//! setting: `config` gives the settings their meaning.

mod expand;
pub mod flag;
pub mod modules_d;
pub mod paths;
pub mod tree;
pub mod values;
