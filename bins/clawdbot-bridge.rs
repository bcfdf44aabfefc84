//! `clawdbot-bridge`: signed one-way messages to the agent (Standard Webhooks).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clawdbot::atomic::FileError;
use clawdbot::bridge::signature::Key;
use clawdbot::bridge::{self, BridgeError};
use clawdbot::cli::bridge::{Cli, Command, PROGRAM};
use clawdbot::config::Config;
use clawdbot::exit::{self, Exit};
use clawdbot::store::Store;
use clawdbot::{journal, submit, time};

fn main() -> ExitCode {
    let cli = match exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    journal::init(cli.verbose, false);
    match run(cli.config.as_deref(), cli.command) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => exit::report(PROGRAM, &e),
    }
}

/// The configuration, keys and store every command but keygen needs.
fn open(config: Option<&Path>) -> Result<(Config, Vec<Key>, Store), BridgeError> {
    let config = Config::load(config)?;
    let keys = bridge::keys(&config)?;
    let store = Store::open(&config.paths.database())?;
    Ok((config, keys, store))
}

fn run(config_path: Option<&Path>, command: Command) -> Result<(), BridgeError> {
    match command {
        // keygen needs no configuration: it must work before there is one.
        Command::Keygen { output: None } => {
            println!("{}", bridge::signature::keygen()?);
            Ok(())
        }
        Command::Keygen { output: Some(path) } => {
            bridge::write_new_secret(&path)?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Send {
            message,
            json,
            request,
            session,
        } => {
            let (config, keys, mut store) = open(config_path)?;
            let body = match (message, json) {
                (Some(text), _) => {
                    bridge::message_body(&text, request.as_deref(), session.as_deref(), time::now())
                }
                (None, Some(path)) => read(&path)?,
                (None, None) => return Err(BridgeError::Body("give --message or --json".into())),
            };
            let sent = bridge::send(&config, &mut store, &keys, &body, request.as_deref())?;
            println!("{} {}", sent.id, sent.to);
            Ok(())
        }
        Command::Resend => {
            let (config, keys, mut store) = open(config_path)?;
            let mut last = Ok(());
            for result in bridge::resend(&config, &mut store, &keys)? {
                match result {
                    Ok(sent) => println!("{} {}", sent.id, sent.to),
                    Err(e) => {
                        eprintln!("{PROGRAM}: {e}");
                        last = Err(e);
                    }
                }
            }
            last
        }
        Command::Verify {
            envelope,
            body,
            header,
        } => {
            let (config, keys, mut store) = open(config_path)?;
            let now = time::now();
            match (envelope, body) {
                (Some(path), _) => {
                    let envelope = read(&path)?;
                    bridge::verify_envelope(&keys, &mut store, &envelope, &config, now, print)
                }
                (None, Some(path)) => {
                    let body = read(&path)?;
                    let headers = bridge::parse_header_lines(&header)?;
                    bridge::verify_message(&keys, &mut store, &headers, &body, &config, now, print)
                }
                (None, None) => Err(BridgeError::Envelope("give --envelope or --body".into())),
            }
        }
    }
}

/// Hand a verified body to the caller: it counts as received once it is flushed to stdout.
fn print(body: &[u8]) -> Result<(), BridgeError> {
    let mut out = std::io::stdout().lock();
    out.write_all(body)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| BridgeError::File(FileError::new("cannot write", Path::new("stdout"), e)))
}

fn read(path: &Path) -> Result<Vec<u8>, BridgeError> {
    submit::read_document(path).map_err(|e| BridgeError::Body(e.to_string()))
}
