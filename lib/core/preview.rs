//! What an action would do, simulated before anyone approves it: for an action configured
//! with `preview = "apt"`, `apt-get -s` shows the packages it installs, upgrades and removes.

use crate::core::request::{self, Accepted, Plan, Problem};
use crate::core::risk::Risk;
use crate::platform::apt;
use crate::platform::config::Config;

/// Simulate an action configured with a preview, outside any transaction: a removal, or a
/// simulation that fails, raises the risk to at least high. Returns the preview as stored; a
/// package word apt does not read as that one package (a pattern, an operator) is a problem
/// of the request.
pub fn simulate(config: &Config, accepted: &mut Accepted) -> Result<Option<String>, Problem> {
    let Plan::Run { argv, .. } = &accepted.plan else {
        return Ok(None);
    };
    if config
        .actions
        .get(&accepted.kind)
        .and_then(|a| a.preview)
        .is_none()
    {
        return Ok(None);
    }
    let assessment = &mut accepted.assessment;
    let stored = match apt::simulate(argv) {
        Ok(plan) => {
            if !plan.remove.is_empty() {
                assessment.risk = assessment.risk.max(Risk::High);
                assessment.reasons.push(format!(
                    "apt-get -s says it removes {}: at least high",
                    plan.remove.join(", ")
                ));
            }
            serde_json::json!({ "apt": plan })
        }
        Err(e @ apt::SimulationError::NotAPackage(_)) => {
            return Err(Problem {
                field: "params".into(),
                rule: "apt-package",
                message: e.to_string(),
            });
        }
        Err(apt::SimulationError::Failed(e)) => {
            assessment.risk = assessment.risk.max(Risk::High);
            assessment.reasons.push(format!(
                "apt-get -s failed ({}): it runs only if the simulation passes then",
                request::excerpt(&e)
            ));
            serde_json::json!({ "apt_error": e })
        }
    };
    Ok(Some(stored.to_string()))
}
