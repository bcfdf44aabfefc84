"""A Gmail API for the booted system test, run inside the machine with Debian's python3: the
refresh-token grant, users.messages.send (each raw message kept as a file, for the test to
read) and the two calls an idle poll makes (users.getProfile, users.history.list), answered in
Google's documented JSON. The clients' full behaviour is tested against the Rust emulator
(tests/emulator/gmail.rs); this one proves the units: the broker's and the poller's credential,
sandbox and network, as docs/setup.md sets them up."""

from google_api import HEAD

SCRIPT = HEAD + r'''

PORT, SENT = int(sys.argv[1]), sys.argv[2]


class Api(GoogleApi):
    REFRESH, ACCESS = "1//system-test-gmail", "ya29.system-test-gmail"

    def do_POST(self):
        body = self.body()
        path = urllib.parse.urlparse(self.path).path
        if path == "/token":
            return self.grant(body)
        if not self.authorized():
            return
        if path == "/gmail/v1/users/me/messages/send":
            raw = json.loads(body)["raw"]
            n = len(os.listdir(SENT)) + 1
            with open(os.path.join(SENT, f"{n}.eml"), "wb") as f:
                f.write(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return self.answer(200, {"id": f"m{n}", "threadId": f"t{n}", "labelIds": ["SENT"]})
        self.not_found()

    def do_GET(self):
        if not self.authorized():
            return
        path = urllib.parse.urlparse(self.path).path
        if path == "/gmail/v1/users/me/profile":
            return self.answer(200, {"emailAddress": "clawdbot@example.org", "messagesTotal": 0, "threadsTotal": 0, "historyId": "1000"})
        if path == "/gmail/v1/users/me/history":
            return self.answer(200, {"historyId": "1000"})
        self.not_found()


http.server.HTTPServer(("127.0.0.1", PORT), Api).serve_forever()
'''
