// clawdbot-verify.mjs: an OpenClaw hook transform that lets a clawdbot bridge message reach
// the agent only when its Standard Webhooks signature, timestamp and id check out.
//
// OpenClaw's gateway checks nothing but the hook token. With this module in
// <config dir>/hooks/transforms/ and a mapping that routes clawdbot's hook path through it,
// a message whose signature does not verify with a secret in clawdbot-bridge.secret (beside
// this file, or the file named by CLAWDBOT_BRIDGE_SECRET_FILE) never reaches the model: the
// gateway answers 400 "hook mapping requires message". The check itself is the official
// `standardwebhooks` package (npm install standardwebhooks in the transforms directory).
//
// OpenClaw hands a transform the parsed body, not its bytes; the signature is checked over
// JSON.stringify of it, which gives back the bytes clawdbot signed because clawdbot-bridge
// sends canonical JSON (compact, keys sorted, integer numbers, no array-index keys).
//
// A repeated message id is left to the gateway's replay cache: the Idempotency-Key header must
// equal webhook-id, so a replayed capture maps to the run it already started (for as long as
// the gateway keeps it: until that run ends plus 5 minutes, and not across a restart; the
// 5-minute timestamp window bounds the rest).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";

const secretFile =
  process.env.CLAWDBOT_BRIDGE_SECRET_FILE ||
  fileURLToPath(new URL("./clawdbot-bridge.secret", import.meta.url));

// Read on every message, so a rotated secret needs no gateway restart. One secret a line.
function secrets() {
  return readFileSync(secretFile, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
}

function refuse(why) {
  console.warn(`clawdbot-verify: message refused: ${why}`);
  // An empty message makes the gateway answer 400 and start no run.
  return { kind: "agent", message: "" };
}

function text(value) {
  return typeof value === "string" ? value : undefined;
}

export default function verify({ payload, headers }) {
  const id = headers["webhook-id"];
  if (!id || headers["idempotency-key"] !== id) {
    return refuse("the Idempotency-Key header must equal webhook-id");
  }
  // OpenClaw ignores a longer idempotency key, and with it the replay cache.
  if (id.length > 256) {
    return refuse("webhook-id is longer than 256 characters");
  }
  let keys;
  try {
    keys = secrets();
  } catch (e) {
    return refuse(`cannot read ${secretFile}: ${e.message}`);
  }
  const signed = {
    "webhook-id": id,
    "webhook-timestamp": headers["webhook-timestamp"] ?? "",
    "webhook-signature": headers["webhook-signature"] ?? "",
  };
  const body = JSON.stringify(payload);
  let why = `no secret in ${secretFile}`;
  const verified = keys.some((key) => {
    try {
      new Webhook(key).verify(body, signed);
      return true;
    } catch (e) {
      why = e.message;
      return false;
    }
  });
  if (!verified) {
    return refuse(`${id}: ${why}`);
  }
  // Verified: the session named in the signed body is the sender's own choice ("static"), so
  // hooks.allowRequestSessionKey can stay false for everyone else.
  const sessionKey = text(payload.sessionKey);
  return {
    kind: "agent",
    message: text(payload.message) ?? "",
    name: text(payload.name) ?? "clawdbot",
    agentId: text(payload.agentId),
    sessionKey,
    sessionKeySource: sessionKey ? "static" : undefined,
    sessionMode: payload.sessionMode === "persistent" ? "persistent" : "isolated",
    deliver: payload.deliver === true,
  };
}
