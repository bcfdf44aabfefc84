//! Make the man pages and shell completions from the programs' clap definitions, and
//! clawdbot.toml(5) from the reference configuration: `cargo run --example assets -- DIR`
//! writes DIR/man/*.1, DIR/man5/clawdbot.toml.5 and DIR/completions/{bash,zsh,fish}/.
//! `make assets` runs it; the package and `make install` ship what it writes.
//!
//! A program's page has what systemd's own pages have: NAME, SYNOPSIS, DESCRIPTION (the
//! program's --help text), OPTIONS, COMMANDS, EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clawdbot::cli;

/// The reference configuration, every key with its default and what it does.
const REFERENCE: &str = include_str!("../packaging/clawdbot.toml.example");

fn commands() -> Vec<Command> {
    vec![
        cli::clawdbot::Cli::command(),
        cli::broker::Cli::command(),
        cli::request::Cli::command(),
        cli::bridge::Cli::command(),
        cli::exec::Cli::command(),
        cli::mailpoll::Cli::command(),
        cli::watchdog::Cli::command(),
        cli::secrets::Cli::command(),
        cli::maint::Cli::command(),
        cli::telegram::Cli::command(),
        cli::calendar::Cli::command(),
        cli::alert::Cli::command(),
        cli::task::Cli::command(),
    ]
}

/// The files a program reads or writes, beside the configuration, and what each is.
fn files(program: &str) -> &'static [(&'static str, &'static str)] {
    match program {
        "clawdbot-request" => &[
            (
                "/srv/clawdbot/requests/",
                "the request spool it writes NAME.json into",
            ),
            (
                "/usr/share/clawdbot/request.schema.json",
                "the request's JSON Schema",
            ),
        ],
        "clawdbot-broker" => &[
            ("/var/lib/clawdbot/state.db", "the state database"),
            (
                "/srv/clawdbot/requests/",
                "the request spool it takes requests from",
            ),
            (
                "/var/lib/clawdbot/quarantine/",
                "rejected requests, each with its .error.json",
            ),
            ("/var/lib/clawdbot/mail/", "the reply Maildir"),
            (
                "/var/lib/clawdbot/approved/",
                "trigger files for clawdbot-exec",
            ),
            (
                "/srv/clawdbot/inbox/",
                "signed messages for the agent (drop mode)",
            ),
            (
                "/etc/credstore/clawdbot.*",
                "credentials its unit loads (bridge-secret, smtp-password, gmail-oauth.json, gateway-token)",
            ),
        ],
        "clawdbot-exec" => &[
            ("/var/lib/clawdbot/state.db", "the state database"),
            (
                "/var/lib/clawdbot/approved/",
                "trigger files left by an approval",
            ),
        ],
        "clawdbot-bridge" => &[
            (
                "/etc/credstore/clawdbot.bridge-secret",
                "the signing secret",
            ),
            (
                "/srv/clawdbot/inbox/",
                "signed messages for the agent (drop mode)",
            ),
            ("/var/lib/clawdbot/state.db", "the state database"),
        ],
        "clawdbot-mailpoll" => &[
            (
                "/etc/credstore/clawdbot.gmail-oauth.json",
                "the Gmail credential (authorize writes it)",
            ),
            ("/var/lib/clawdbot/mail/", "the reply Maildir"),
        ],
        "clawdbot-watchdog" => &[
            ("/home/*/.openclaw/agents/", "the agent's sessions"),
            (
                "/var/lib/clawdbot/backups/",
                "copies of session files taken before a repair",
            ),
            ("/var/lib/clawdbot/state.db", "the state database"),
        ],
        "clawdbot-telegram" => &[
            ("/etc/credstore/clawdbot.telegram-token", "the bot's token"),
            ("/var/lib/clawdbot/state.db", "the state database"),
        ],
        "clawdbot-calendar" => &[
            (
                "/etc/credstore/clawdbot.calendar/",
                "one credential per account (authorize writes it)",
            ),
            (
                "/srv/clawdbot/shared/availability.json",
                "the merged availability the agent reads",
            ),
        ],
        "clawdbot-alert" => &[
            (
                "/srv/clawdbot/alerts/",
                "the alert spool the broker takes ([alerts] spool)",
            ),
            (
                "/var/ossec/integrations/custom-clawdbot",
                "the script Wazuh's integrator runs",
            ),
        ],
        _ => &[("/var/lib/clawdbot/state.db", "the state database")],
    }
}

/// The units that start a program.
fn units(program: &str) -> &'static str {
    match program {
        "clawdbot" | "clawdbot-request" => "",
        "clawdbot-broker" => "clawdbot-broker.service, clawdbot-broker.path, clawdbot-broker.timer",
        "clawdbot-exec" => "clawdbot-exec.service, clawdbot-exec.path",
        "clawdbot-bridge" => "clawdbot-bridge-keygen.service",
        "clawdbot-maint" => "clawdbot-maint@.service, clawdbot-maint-daily.timer",
        _ => "",
    }
}

/// Text for roff: backslashes escaped, and no line starting as a request.
fn roff(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e");
            if line.starts_with(['.', '\'']) {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The --help prose (after_help) as paragraphs, its indented lines kept as they are.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut literal = false;
    for line in text.lines() {
        let indented = line.starts_with("  ");
        if indented != literal {
            out.push_str(if indented {
                ".nf\n.RS 4\n"
            } else {
                ".RE\n.fi\n"
            });
            literal = indented;
        }
        if line.trim().is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&roff(line));
            out.push('\n');
        }
    }
    if literal {
        out.push_str(".RE\n.fi\n");
    }
    out
}

fn program_page(command: &Command) -> std::io::Result<Vec<u8>> {
    let name = command.get_name().to_string();
    let man = clap_mangen::Man::new(command.clone()).manual("clawdbot");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    writeln!(out, ".SH DESCRIPTION")?;
    // NAME already says the one-line about.
    if let Some(about) = command.get_long_about() {
        writeln!(out, "{}\n.PP", roff(&about.to_string()))?;
    }
    if let Some(after) = command.get_after_help() {
        out.extend_from_slice(prose(&after.to_string()).as_bytes());
    }
    man.render_options_section(&mut out)?;
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    writeln!(
        out,
        ".SH \"EXIT STATUS\"\nAs sysexits(3):\n.TP\n0\ndone\n.TP\n64\na usage error\n.TP\n65\nbad input data (a request, a reply, a file refused)\n.TP\n66\nan input file that cannot be read\n.TP\n69\na service unavailable for good\n.TP\n73\na file that cannot be created\n.TP\n74\nan I/O error\n.TP\n75\na temporary failure: run again later\n.TP\n78\na configuration error, named with its file, line and key"
    )?;
    writeln!(
        out,
        ".SH ENVIRONMENT\n.TP\n\\fICLAWDBOT_CONFIG\\fR\nThe configuration file instead of /etc/clawdbot/clawdbot.toml (its drop-ins are FILE.d/*.toml); --config wins over it.\n.TP\n\\fICREDENTIALS_DIRECTORY\\fR\nSet by systemd for a unit's LoadCredential=; credentials are read there first, then from /etc/credstore/clawdbot.NAME."
    )?;
    writeln!(
        out,
        ".SH FILES\n.TP\n/etc/clawdbot/clawdbot.toml, /etc/clawdbot/clawdbot.toml.d/*.toml\nThe configuration and its drop-ins, clawdbot.toml(5)."
    )?;
    for (path, what) in files(&name) {
        writeln!(out, ".TP\n{}\n{}", roff(path), roff(what))?;
    }
    let started_by = units(&name);
    writeln!(
        out,
        ".SH \"SEE ALSO\"\nclawdbot(1), clawdbot.toml(5), systemd.exec(5), journalctl(1){}; /usr/share/doc/clawdbot/docs/",
        if started_by.is_empty() {
            String::new()
        } else {
            format!(", the units {started_by}")
        }
    )?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// clawdbot.toml(5): the reference file's header as DESCRIPTION, then each section and key
/// with its default and the comment above it.
fn config_page() -> String {
    let mut out = String::from(
        ".TH CLAWDBOT.TOML 5 \"\" \"clawdbot\" \"clawdbot\"\n.SH NAME\nclawdbot.toml \\- configuration of the clawdbot suite\n.SH SYNOPSIS\n/etc/clawdbot/clawdbot.toml, /etc/clawdbot/clawdbot.toml.d/*.toml\n.SH DESCRIPTION\n",
    );
    let mut comment: Vec<String> = Vec::new();
    let mut in_header = true;
    for line in REFERENCE.lines() {
        let bare = line.trim_start_matches('#').trim();
        let header = bare.starts_with('[');
        let key = !header
            && line.starts_with("# ")
            && bare
                .split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if in_header && !header {
            if bare.is_empty() {
                out.push_str(".PP\n");
            } else if !line.contains("clawdbot.toml: every setting") {
                out.push_str(&roff(bare));
                out.push('\n');
            }
            continue;
        }
        if header {
            if in_header {
                out.push_str(".SH OPTIONS\n");
                in_header = false;
            }
            out.push_str(&format!(".SS \"{}\"\n", roff(bare)));
            if !comment.is_empty() {
                out.push_str(&format!("{}\n", roff(&comment.join(" "))));
                comment.clear();
            }
        } else if key {
            let (name, value) = bare.split_once(" = ").unwrap_or((bare, ""));
            // A trailing "# (example)" or "# (follows state_dir)" is said after the value.
            let value = match value.split_once("# ") {
                Some((value, note)) => format!("{} {}", value.trim(), note.trim()),
                None => value.to_string(),
            };
            out.push_str(&format!(
                ".TP\n\\fB{}\\fR = {}\n{}\n",
                roff(name),
                roff(&value),
                roff(&comment.join(" "))
            ));
            comment.clear();
        } else if !bare.is_empty() {
            comment.push(bare.to_string());
        }
    }
    out.push_str(
        ".SH EXAMPLE\n.nf\n.RS 4\n# /etc/clawdbot/clawdbot.toml.d/10\\-operator.toml\n[operator]\nemails = [\"you@example.org\"]\n\n[mail]\ntransport = \"smtp\"\nfrom = \"clawdbot@host.example.org\"\n\n[mail.smtp]\nhost = \"smtp.example.org\"\n.RE\n.fi\n.SH FILES\n.TP\n/etc/clawdbot/clawdbot.toml\nThe packaged file, with the reference actions; leave it as shipped.\n.TP\n/etc/clawdbot/clawdbot.toml.d/*.toml\nYour drop-ins, read in name order.\n.TP\n/usr/share/doc/clawdbot/examples/clawdbot.toml\nThis reference, as a file.\n.SH \"SEE ALSO\"\nclawdbot(1), clawdbot\\-broker(1), /usr/share/doc/clawdbot/docs/setup.md\n",
    );
    out
}

fn write(dir: &Path) -> std::io::Result<()> {
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    for mut command in commands() {
        let name = command.get_name().to_string();
        // One page per subcommand (clawdbot-bridge-verify.1) as clap_mangen makes them; the
        // program's own page is ours.
        clap_mangen::generate_to(command.clone(), &man)?;
        std::fs::write(man.join(format!("{name}.1")), program_page(&command)?)?;
        // Named as each shell's vendor directory expects them.
        for (shell, file) in [
            (Shell::Bash, name.clone()),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let out = dir.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&out)?;
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut text);
            std::fs::write(out.join(file), text)?;
        }
    }
    let man5 = dir.join("man5");
    std::fs::create_dir_all(&man5)?;
    std::fs::write(man5.join("clawdbot.toml.5"), config_page())?;
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: assets DIR");
        return ExitCode::from(64);
    };
    match write(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("assets: {}: {e}", dir.display());
            ExitCode::from(73)
        }
    }
}
