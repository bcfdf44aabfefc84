"""A Google Calendar API for the booted system test, run inside the machine with Debian's
python3: the refresh-token grant, calendarList.list and events.list with one event, answered
in Google's documented JSON. The client's full behaviour is tested against the Rust emulator
(tests/emulator/calendar.rs); this one proves the unit: its credential directory, sandbox,
network and the file the agent reads."""

from google_api import HEAD

SCRIPT = HEAD + r'''

PORT, DAY = int(sys.argv[1]), sys.argv[2]


class Api(GoogleApi):
    REFRESH, ACCESS = "1//system-test", "ya29.system-test"

    def do_POST(self):
        self.grant(self.body())

    def do_GET(self):
        if not self.authorized():
            return
        path = urllib.parse.urlparse(self.path).path
        if path == "/calendar/v3/users/me/calendarList":
            return self.answer(200, {"kind": "calendar#calendarList", "items": [
                {"kind": "calendar#calendarListEntry", "id": "ops@example.org", "summary": "Personal", "timeZone": "Europe/Amsterdam"}]})
        if path == "/calendar/v3/calendars/ops%40example.org/events":
            at = lambda hour: {"dateTime": f"{DAY}T{hour}:00:00", "timeZone": "Europe/Amsterdam"}
            return self.answer(200, {"kind": "calendar#events", "timeZone": "Europe/Amsterdam", "items": [
                {"kind": "calendar#event", "id": "e1", "iCalUID": "e1@google.com", "status": "confirmed",
                 "summary": "Dentist", "start": at("09"), "end": at("10")}]})
        self.not_found()


http.server.HTTPServer(("127.0.0.1", PORT), Api).serve_forever()
'''
