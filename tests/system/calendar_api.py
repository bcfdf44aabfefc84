"""A Google Calendar API for the booted system test, run inside the machine with Debian's
python3: the refresh-token grant, calendarList.list and events.list with one event, answered
in Google's documented JSON. The client's full behaviour is tested against the Rust emulator
(tests/emulator/calendar.rs); this one proves the unit: its credential directory, sandbox,
network and the file the agent reads."""

SCRIPT = r'''
import http.server, json, sys, urllib.parse

PORT, DAY = int(sys.argv[1]), sys.argv[2]
REFRESH, ACCESS = "1//system-test", "ya29.system-test"


class Api(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [REFRESH]:
            self.answer(200, {"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"})
        else:
            self.answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {ACCESS}":
            return self.answer(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
        path = urllib.parse.urlparse(self.path).path
        if path == "/calendar/v3/users/me/calendarList":
            return self.answer(200, {"kind": "calendar#calendarList", "items": [
                {"kind": "calendar#calendarListEntry", "id": "ops@example.org", "summary": "Personal", "timeZone": "Europe/Amsterdam"}]})
        if path == "/calendar/v3/calendars/ops%40example.org/events":
            at = lambda hour: {"dateTime": f"{DAY}T{hour}:00:00", "timeZone": "Europe/Amsterdam"}
            return self.answer(200, {"kind": "calendar#events", "timeZone": "Europe/Amsterdam", "items": [
                {"kind": "calendar#event", "id": "e1", "iCalUID": "e1@google.com", "status": "confirmed",
                 "summary": "Dentist", "start": at("09"), "end": at("10")}]})
        self.answer(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Api).serve_forever()
'''
