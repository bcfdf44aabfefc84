//! The command line of `clawdbot-alert` (kept here so man pages and completions are made from it).

use std::ffi::OsString;
use std::path::PathBuf;

use super::Common;
use crate::intake::alert::{self, Handed};
use crate::platform::config::Config;
use crate::platform::exit::{self, Exit};
use crate::platform::time;
use clap::Parser;
use std::process::ExitCode;

/// The program's name, in messages and usage.
pub const PROGRAM: &str = "clawdbot-alert";

/// Hand one Wazuh alert to the suite, which tells the operators by Telegram and mail.
#[derive(Parser)]
#[command(name = PROGRAM, version, after_help = "\
Run by Wazuh's integrator daemon through /var/ossec/integrations/custom-clawdbot, as the
wazuh user, with the alert file's path first (its api_key, hook_url and options arguments
are not used). The alert's level, rule, agent, description, location and the first part of
its log are written to the alert spool ([alerts] spool, /srv/clawdbot/alerts), which the
broker takes on its next pass: de-duplicated per rule and agent, a burst as one digest,
quiet hours holding all but the critical ones (docs/alerts.md).

Alerts of the suite's own rules (group clawdbot) are not handed over: the suite tells the
operators of those events itself. A file that cannot be read as an alert is handed over as
an alert saying so.

Setup (docs/setup.md, step 10):
  install -o root -g wazuh -m 750 /usr/share/clawdbot/wazuh/custom-clawdbot \\
      /var/ossec/integrations/
  install -d -o clawdbot -g wazuh -m 2770 /srv/clawdbot/alerts
  and the <integration> block of /usr/share/clawdbot/wazuh/ossec-integration.xml in
  /var/ossec/etc/ossec.conf; then clawdbot doctor.

Example:
  clawdbot-alert /tmp/custom-clawdbot-1733587200-123.alert

Exit status: 0 handed over (or one of the suite's own), 66 cannot read the file,
73 cannot write the spool, 78 the configuration cannot be read (the alert is still handed
over, to the default spool).")]
pub struct Cli {
    /// The alert file Wazuh wrote (one JSON alert).
    pub file: PathBuf,
    /// What else Wazuh passes (api_key, hook_url, options file): not used.
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = true)]
    pub unused: Vec<OsString>,
    #[command(flatten)]
    pub common: Common,
}

impl super::Program for Cli {
    const NAME: &'static str = PROGRAM;

    fn common(&self) -> &Common {
        &self.common
    }
}

/// The program: parse the command line, start logging, hand the alert over, and exit with a
/// sysexits status.
pub fn main() -> ExitCode {
    let cli = match super::start::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // Wazuh does not hand an alert over twice: with a configuration its user cannot read, the
    // alert still goes to the default spool, and the exit status says what is wrong.
    let (config, status) = match Config::load(cli.common.config.as_deref()) {
        Ok(config) => (config, Exit::Ok),
        Err(e) => {
            log::error!("{e}; the alert goes to the built-in default spool");
            (Config::default(), Exit::Config)
        }
    };
    match alert::hand_over(&config, &cli.file, time::now()) {
        Ok(Handed::Spooled(path)) => {
            log::info!(
                "alert {} handed over as {}",
                cli.file.display(),
                path.display()
            );
            status.into()
        }
        Ok(Handed::Own) => {
            log::info!(
                "alert {} is of the suite's own rules, which it tells itself",
                cli.file.display()
            );
            status.into()
        }
        Err(e) => exit::report(PROGRAM, &e),
    }
}
