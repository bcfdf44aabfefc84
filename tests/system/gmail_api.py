"""A Gmail API for the booted system test, run inside the machine with Debian's python3: the
refresh-token grant, users.messages.send (each raw message kept as a file, for the test to
read) and the two calls an idle poll makes (users.getProfile, users.history.list), answered in
Google's documented JSON. The clients' full behaviour is tested against the Rust emulator
(tests/emulator/gmail.rs); this one proves the units: the broker's and the poller's credential,
sandbox and network, as docs/setup.md sets them up."""

SCRIPT = r'''
import base64, http.server, json, os, sys, urllib.parse

PORT, SENT = int(sys.argv[1]), sys.argv[2]
REFRESH, ACCESS = "1//system-test-gmail", "ya29.system-test-gmail"


class Api(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.headers.get("Authorization") == f"Bearer {ACCESS}":
            return True
        self.answer(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
        return False

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = urllib.parse.urlparse(self.path).path
        if path == "/token":
            form = urllib.parse.parse_qs(body.decode())
            if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [REFRESH]:
                return self.answer(200, {"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"})
            return self.answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        if not self.authorized():
            return
        if path == "/gmail/v1/users/me/messages/send":
            raw = json.loads(body)["raw"]
            n = len(os.listdir(SENT)) + 1
            with open(os.path.join(SENT, f"{n}.eml"), "wb") as f:
                f.write(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return self.answer(200, {"id": f"m{n}", "threadId": f"t{n}", "labelIds": ["SENT"]})
        self.answer(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    def do_GET(self):
        if not self.authorized():
            return
        path = urllib.parse.urlparse(self.path).path
        if path == "/gmail/v1/users/me/profile":
            return self.answer(200, {"emailAddress": "clawdbot@example.org", "messagesTotal": 0, "threadsTotal": 0, "historyId": "1000"})
        if path == "/gmail/v1/users/me/history":
            return self.answer(200, {"historyId": "1000"})
        self.answer(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Api).serve_forever()
'''
