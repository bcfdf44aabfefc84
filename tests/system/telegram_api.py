"""A Telegram Bot API for the booted system test, run inside the machine with Debian's python3:
getMe, getUpdates (Telegram's offset rule: asking from an offset forgets every update below
it), sendMessage and answerCallbackQuery, as `POST /bot<TOKEN>/<method>` with a JSON body and
answers in the documented `{"ok": …}` shape; a wrong token is 401. The test acts as the users
by writing updates as files into UPDATES; each message the bot sends is kept as a file in
SENT. The bot's full behaviour is tested against the Rust emulator (tests/emulator/telegram.rs);
this one proves the unit: its credential, sandbox and network, as docs/setup.md sets them up."""

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

SCRIPT = r'''
import http.server, json, os, sys

PORT, TOKEN, UPDATES, SENT = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Api(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        bot, _, method = self.path.lstrip("/").partition("/")
        if bot != f"bot{TOKEN}":
            return self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if method == "getMe":
            return self.answer(200, {"ok": True, "result": {"id": 123456789, "is_bot": True,
                                                            "first_name": "clawdbot", "username": "clawdbot_bot"}})
        if method == "getUpdates":
            offset = int(body.get("offset", 0))
            updates = []
            # Only whole updates: the test writes NAME.json.part and renames it.
            names = [n for n in os.listdir(UPDATES) if n.endswith(".json")]
            for name in sorted(names, key=lambda n: int(n.split(".")[0])):
                update = json.load(open(os.path.join(UPDATES, name)))
                if update["update_id"] < offset:
                    os.unlink(os.path.join(UPDATES, name))
                else:
                    updates.append(update)
            return self.answer(200, {"ok": True, "result": updates})
        if method == "sendMessage":
            n = len(os.listdir(SENT)) + 1
            with open(os.path.join(SENT, f"{n}.json"), "w") as f:
                json.dump(body, f)
            return self.answer(200, {"ok": True, "result": {"message_id": n, "date": 0, "text": body.get("text", ""),
                                                            "chat": {"id": body["chat_id"], "type": "private"}}})
        if method == "answerCallbackQuery":
            return self.answer(200, {"ok": True, "result": True})
        self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Api).serve_forever()
'''
