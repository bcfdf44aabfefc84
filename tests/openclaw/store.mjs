// OpenClaw's own session store (2026.8.1 on: one SQLite database per agent), driven through
// its plugin SDK, for tests/openclaw.rs. Run with Node 24 next to a `node_modules` holding the
// release, with OPENCLAW_STATE_DIR set.
//
//   write    stdin {agentId, sessions: [{key, messages: [...]}]}: each session written with
//            OpenClaw's own append, one message at a time; prints {key: sessionId}
//   context  AGENT KEY: the messages OpenClaw would send the model; prints [{role, ...}]
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

const sdk = (name) => import(`openclaw/plugin-sdk/${name}`);
const store = await sdk("session-store-runtime");
const transcript = await sdk("session-transcript-runtime");
const sessions = await sdk("agent-sessions");

const [command, ...args] = process.argv.slice(2);
if (command === "write") {
  const { agentId, sessions: wanted } = JSON.parse(readFileSync(0, "utf8"));
  const written = {};
  for (const { key, messages } of wanted) {
    const sessionId = randomUUID();
    const now = Date.now();
    await store.upsertSessionEntry({ agentId, sessionKey: key, entry: { sessionId, updatedAt: now, sessionStartedAt: now } });
    for (const message of messages) {
      await transcript.appendSessionTranscriptMessageByIdentity({ agentId, sessionKey: key, sessionId, message });
    }
    written[key] = sessionId;
  }
  console.log(JSON.stringify(written));
} else if (command === "context") {
  const [agentId, sessionKey] = args;
  const storePath = store.resolveStorePath(undefined, { agentId });
  const sessionId = store.getSessionEntry({ agentId, sessionKey })?.sessionId;
  const sm = await sessions.SessionManager.openModelContextAsync({ agentId, sessionKey, sessionId, storePath });
  console.log(JSON.stringify(sm.buildSessionContext().messages));
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
