"""What the booted test's stand-ins for Google's APIs share (calendar_api.py, gmail_api.py),
as the head of their scripts: JSON answers in Google's error shapes, the refresh-token grant
and the bearer check."""

HEAD = r'''
import base64, http.server, json, os, sys, urllib.parse


class GoogleApi(http.server.BaseHTTPRequestHandler):
    REFRESH, ACCESS = "", ""

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def grant(self, body):
        form = urllib.parse.parse_qs(body.decode())
        if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [self.REFRESH]:
            return self.answer(200, {"access_token": self.ACCESS, "expires_in": 3599, "token_type": "Bearer"})
        self.answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})

    def authorized(self):
        if self.headers.get("Authorization") == f"Bearer {self.ACCESS}":
            return True
        self.answer(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
        return False

    def not_found(self):
        self.answer(404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})

    def log_message(self, *args):
        pass
'''
