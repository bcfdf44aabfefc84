// OpenClaw's own code, for tests/openclaw.rs: writes sessions with its SessionManager, and
// reads them back with its loader and its repair. Run with Node 24 from a directory whose
// node_modules holds the pinned `openclaw` release.
//
//   node harness.mjs write DIR     sessions of every shape into DIR; prints {name: file}
//   node harness.mjs check FILE... for each file: the model's context as OpenClaw builds it
//                                  (read-only) and what OpenClaw's own repair would do to a
//                                  copy of it; prints {file: {messages, repair}}
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const sdk = await import('openclaw/plugin-sdk/agent-sessions');
const { SessionManager, loadEntriesFromFile, buildSessionContext } = sdk;

// repairSessionFileIfNeeded is not exported by name: it lives in the session manager's chunk,
// found from the module that re-exports SessionManager.
async function repairFunction() {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('openclaw/plugin-sdk/agent-sessions');
  const source = readFileSync(entry, 'utf8');
  const chunk = source.match(/from "(\.\.\/session-manager-[^"]+\.js)"/);
  if (!chunk) throw new Error(`no session-manager chunk named in ${entry}`);
  const module = await import(pathToFileURL(join(dirname(entry), chunk[1])).href);
  const found = Object.values(module).find((f) => typeof f === 'function' && f.name === 'repairSessionFileIfNeeded');
  if (!found) throw new Error('repairSessionFileIfNeeded not found');
  return found;
}

const usage = { input: 10, output: 5, cacheRead: 0, cacheWrite: 0, totalTokens: 15,
  cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 } };
let clock = 1_780_000_000_000;
const user = (text) => ({ role: 'user', content: [{ type: 'text', text }], timestamp: clock++ });
const assistant = (content, stopReason = 'stop', extra = {}) => ({
  role: 'assistant', content, stopReason, api: 'anthropic-messages', provider: 'anthropic',
  model: 'claude-sonnet-4-5', usage, timestamp: clock++, ...extra });
const text = (t) => ({ type: 'text', text: t });
const call = (id, command) => ({ type: 'toolCall', id, name: 'exec', arguments: { command } });
const result = (fields, out) => ({ role: 'toolResult', toolName: 'exec',
  content: [text(out)], isError: false, timestamp: clock++, ...fields });

const shapes = {
  tools(sm) {
    sm.appendMessage(user('What is using the disk?'));
    sm.appendMessage(assistant([text('I will check.'), call('toolu_01', 'df -h')], 'toolUse'));
    sm.appendMessage(result({ toolCallId: 'toolu_01' }, '/dev/sda1 91% /'));
    sm.appendMessage(assistant([text('The root file system is 91% full.')]));
    sm.appendMessage(user('Check both mounts.'));
    sm.appendMessage(assistant([call('toolu_02', 'df -h /'), call('toolu_03', 'df -h /srv')], 'toolUse'));
    sm.appendMessage(result({ toolCallId: 'toolu_02' }, '91%'));
    sm.appendMessage(result({ toolCallId: 'toolu_03' }, '40%'));
    sm.appendMessage(assistant([text('Root 91%, /srv 40%.')]));
    sm.appendThinkingLevelChange('high');
    sm.appendMessage(user('Thanks.'));
    sm.appendMessage(assistant([text('You are welcome.')]));
  },
  spellings(sm) {
    sm.appendMessage(user('Use every tool spelling.'));
    sm.appendMessage(assistant([{ type: 'toolUse', id: 'tu_1', name: 'exec', input: { command: 'ls' } },
      { type: 'functionCall', id: 'fc_1', name: 'exec', arguments: { command: 'pwd' } }], 'toolUse'));
    sm.appendMessage(result({ toolUseId: 'tu_1' }, 'a b'));
    sm.appendMessage(result({ call_id: 'fc_1' }, '/w'));
    sm.appendMessage(assistant([call('t_2', 'id'), call('t_3', 'date'), call('t_4', 'uptime'), call('t_5', 'w')], 'toolUse'));
    sm.appendMessage(result({ tool_call_id: 't_2' }, 'uid=0'));
    sm.appendMessage(result({ tool_use_id: 't_3' }, 'today'));
    sm.appendMessage(result({ callId: 't_4' }, 'up'));
    sm.appendMessage(result({ toolCallId: 't_5' }, 'one user'));
    sm.appendMessage(assistant([text('Done.')]));
    sm.appendMessage(user('Good.'));
    sm.appendMessage(assistant([text('Bye.')]));
  },
  errored(sm) {
    sm.appendMessage(user('Write the file.'));
    sm.appendMessage(assistant([text('Writing.'), { type: 'toolCall', id: 'toolu_e1', name: 'write',
      arguments: {}, partialJson: '{"path":"/tmp/x","con' }], 'error', { errorMessage: 'stream ended' }));
    sm.appendMessage(result({ toolCallId: 'toolu_e1', isError: true }, 'missing tool result'));
    sm.appendMessage(user('Are you there?'));
    sm.appendMessage(assistant([call('toolu_e2', 'sleep 100')], 'aborted'));
    sm.appendMessage(user('Try again.'));
    sm.appendMessage(assistant([call('toolu_e3', 'true')], 'toolUse'));
    sm.appendMessage(user('Never mind the tool.'));
    sm.appendMessage(result({ toolCallId: 'gone_1' }, 'an orphan'));
    sm.appendMessage(assistant([text('Fine.')]));
  },
  branched(sm) {
    sm.appendMessage(user('Plan A or B?'));
    const a = sm.appendMessage(assistant([text('A.')]));
    sm.appendMessage(user('Why A?'));
    sm.appendMessage(assistant([text('Because.')]));
    sm.branch(a);
    sm.appendMessage(user('And B?'));
    sm.appendMessage(assistant([text('B too.')]));
    sm.appendMessage(user('Decide.'));
    sm.appendMessage(assistant([text('A then B.')]));
  },
};

async function write(dir) {
  const files = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const sm = SessionManager.create('/workspace', join(dir, name));
    shape(sm);
    files[name] = sm.getSessionFile();
  }
  return files;
}

async function check(files) {
  const repair = await repairFunction();
  const scratch = mkdtempSync(join(tmpdir(), 'openclaw-check-'));
  const out = {};
  try {
    for (const [i, file] of files.entries()) {
      const entries = loadEntriesFromFile(file);
      const messages = entries.length ? buildSessionContext(entries).messages : null;
      const copy = join(scratch, `${i}.jsonl`);
      copyFileSync(file, copy);
      const r = await repair({ sessionFile: copy });
      out[file] = { entries: entries.length, messages, repair: { repaired: r.repaired, droppedLines: r.droppedLines ?? 0 } };
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return out;
}

const [command, ...args] = process.argv.slice(2);
const result_ = command === 'write' ? await write(args[0]) : command === 'check' ? await check(args) : null;
if (result_ === null) {
  process.stderr.write('usage: harness.mjs write DIR | check FILE...\n');
  process.exit(64);
}
process.stdout.write(JSON.stringify(result_));
