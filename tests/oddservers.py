"""Small purpose-built HTTP servers for answers no workspace gives: any JSON (not a
workspace), silence after accepting, a body dripped one byte at a time."""

from __future__ import annotations

import json
import socket
import threading
from typing import Callable

# One answer: a JSON-able body (200), "silent" (read the request, never answer), or
# "drip" (headers, then one byte every DRIP_EVERY_S seconds, never finishing).
Answer = object
DRIP_EVERY_S = 0.2


class OddServer:
    """Answers each request with answers(path); `with OddServer(...) as s: s.url`."""

    def __init__(self, answers: Callable[[str], Answer]):
        self._answers = answers
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.requests: list[str] = []

    def __enter__(self) -> "OddServer":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            reader = conn.makefile("rb")
            while not self._stop.is_set():
                line = reader.readline()
                if not line:
                    return
                path = line.split()[1].decode() if len(line.split()) > 1 else "/"
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass  # headers
                self.requests.append(path)
                answer = self._answers(path)
                try:
                    if answer == "silent":
                        self._stop.wait()
                        return
                    if answer == "drip":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: 100000\r\n\r\n")
                        while not self._stop.wait(DRIP_EVERY_S):
                            conn.sendall(b" ")
                        return
                    body = json.dumps(answer).encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
                except OSError:
                    return
