// Stand-in for the Anthropic Messages API (Node 24, no dependencies).
// Usage: node provider.mjs PORT CAPTURE_FILE
// Listens on 127.0.0.1:PORT. POST /v1/messages answers "ok, noted" (SSE when stream:true, JSON
// otherwise) and appends the request body as one JSON line to CAPTURE_FILE. Other paths:
// GET /v1/models[/id] (model list), POST /v1/messages/count_tokens (rough count),
// HEAD/GET / (200). Anything else: 404 Anthropic-style error, logged to stderr.
import { createServer } from "node:http";
import { appendFileSync } from "node:fs";

const port = Number(process.argv[2]);
const capture = process.argv[3];
if (!port || !capture) {
  console.error("usage: node provider.mjs PORT CAPTURE_FILE");
  process.exit(2);
}
const REPLY = process.env.PROVIDER_REPLY || "ok, noted";
let seq = 0;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function error(res, status, type, message) {
  json(res, status, { type: "error", error: { type, message } });
}

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const path = url.pathname.replace(/\/+$/, "") || "/";
  let raw = "";
  try {
    raw = await readBody(req);
  } catch {}

  if (req.method === "POST" && path === "/v1/messages") {
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      console.error(`provider: invalid JSON on ${req.url}`);
      return error(res, 400, "invalid_request_error", "invalid JSON body");
    }
    appendFileSync(capture, JSON.stringify(body) + "\n");
    const id = `msg_stand_in_${Date.now()}_${++seq}`;
    const model = body.model || "claude-stand-in";
    const inputTokens = Math.max(1, Math.ceil(raw.length / 4));
    const outputTokens = 3;
    if (body.stream === true) {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      sse(res, "message_start", {
        type: "message_start",
        message: {
          id, type: "message", role: "assistant", model, content: [],
          stop_reason: null, stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        },
      });
      sse(res, "content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
      sse(res, "ping", { type: "ping" });
      sse(res, "content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: REPLY } });
      sse(res, "content_block_stop", { type: "content_block_stop", index: 0 });
      sse(res, "message_delta", {
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      });
      sse(res, "message_stop", { type: "message_stop" });
      res.end();
      return;
    }
    return json(res, 200, {
      id, type: "message", role: "assistant", model,
      content: [{ type: "text", text: REPLY }],
      stop_reason: "end_turn", stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  }

  if (req.method === "POST" && path === "/v1/messages/count_tokens") {
    console.error(`provider: count_tokens`);
    return json(res, 200, { input_tokens: Math.max(1, Math.ceil(raw.length / 4)) });
  }

  const models = (process.env.PROVIDER_MODELS || "claude-stand-in").split(",");
  const modelInfo = (id) => ({ type: "model", id, display_name: id, created_at: "2026-01-01T00:00:00Z" });
  if (req.method === "GET" && path === "/v1/models") {
    console.error(`provider: model list`);
    return json(res, 200, { data: models.map(modelInfo), has_more: false, first_id: models[0], last_id: models.at(-1) });
  }
  if (req.method === "GET" && path.startsWith("/v1/models/")) {
    console.error(`provider: model info ${path}`);
    return json(res, 200, modelInfo(decodeURIComponent(path.slice("/v1/models/".length))));
  }
  if ((req.method === "GET" || req.method === "HEAD") && path === "/") {
    res.writeHead(200, { "content-type": "text/plain" });
    return res.end(req.method === "HEAD" ? undefined : "stand-in anthropic provider\n");
  }

  console.error(`provider: unknown ${req.method} ${req.url} ${raw.slice(0, 200)}`);
  return error(res, 404, "not_found_error", `no such path: ${req.method} ${path}`);
});

server.listen(port, "127.0.0.1", () => {
  console.log("listening");
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
