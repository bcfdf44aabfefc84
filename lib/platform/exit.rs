//! Exit codes at the edge of every binary, as sysexits(3) defines them.

use std::process::ExitCode;

/// The outcome of a command, mapped to a sysexits code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 64: the command line was wrong.
    Usage,
    /// 65: the input data was wrong.
    DataErr,
    /// 66: an input file does not exist or cannot be read.
    NoInput,
    /// 69: a service the command needs is unavailable.
    Unavailable,
    /// 70: an internal error (a bug).
    Software,
    /// 73: an output file could not be created.
    CantCreat,
    /// 74: an input/output error.
    IoErr,
    /// 75: a temporary failure; retry later.
    TempFail,
    /// 78: the configuration is wrong.
    Config,
}

impl Exit {
    /// The numeric sysexits value.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Usage => 64,
            Exit::DataErr => 65,
            Exit::NoInput => 66,
            Exit::Unavailable => 69,
            Exit::Software => 70,
            Exit::CantCreat => 73,
            Exit::IoErr => 74,
            Exit::TempFail => 75,
            Exit::Config => 78,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// An error that knows which exit code it deserves.
pub trait ExitStatus: std::error::Error {
    /// The sysexits code for this error.
    fn exit(&self) -> Exit;
}

/// Parse the command line. `--help` and `--version` print and exit 0; a usage error prints
/// clap's message and exits 64 (sysexits' EX_USAGE), not clap's own 2.
pub fn parse_args<T: clap::Parser>() -> Result<T, ExitCode> {
    T::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            Exit::Usage.into()
        } else {
            Exit::Ok.into()
        }
    })
}

/// Print an error and its causes, one line each, and return its exit code.
pub fn report<E: ExitStatus>(program: &str, err: &E) -> ExitCode {
    eprintln!("{program}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    err.exit().into()
}
