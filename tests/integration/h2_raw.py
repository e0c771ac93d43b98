"""A minimal HTTP/2 (prior knowledge, cleartext) client for tests that need what no SDK does: many
streams whose bodies never end, flow-control windows observed frame by frame. HPACK is written
as literals without indexing or Huffman coding, which every decoder must accept (RFC 7541 6.2.2)."""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SETTINGS_INITIAL_WINDOW_SIZE = 4
DEFAULT_WINDOW = 65535
MAX_FRAME = 16384


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(n, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = [first | limit]
    n -= limit
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def hpack(headers):
    out = b""
    for name, value in headers:
        name, value = name.encode(), value.encode()
        out += b"\x00" + _hpack_int(len(name), 7) + name + _hpack_int(len(value), 7) + value
    return out


class H2Connection:
    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        self.buf = b""
        self.conn_window = DEFAULT_WINDOW
        self.initial_window = DEFAULT_WINDOW
        self.windows = {}      # stream id -> send window
        self.responses = {}    # stream id -> list of header blocks (raw HPACK) seen
        self.closed = {}       # stream id -> RST_STREAM error code, or "end"
        self.goaway = False
        self.eof = False
        self.next_id = 1

    def close(self):
        self.sock.close()

    # ---- reading ----------------------------------------------------------------------------
    def poll(self, timeout):
        """Reads and handles whatever frames arrive within timeout; False once the peer closed."""
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            return not self.eof
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            self._handle(ftype, flags, stream, payload)
        return True

    def _handle(self, ftype, flags, stream, payload):
        if ftype == SETTINGS and not flags & ACK:
            for i in range(0, len(payload), 6):
                ident, value = struct.unpack(">HI", payload[i:i + 6])
                if ident == SETTINGS_INITIAL_WINDOW_SIZE:
                    delta = value - self.initial_window
                    self.initial_window = value
                    for sid in self.windows:
                        self.windows[sid] += delta
            self.sock.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == WINDOW_UPDATE:
            inc = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
            if stream == 0:
                self.conn_window += inc
            elif stream in self.windows:
                self.windows[stream] += inc
        elif ftype == PING and not flags & ACK:
            self.sock.sendall(frame(PING, ACK, 0, payload))
        elif ftype == HEADERS:
            self.responses.setdefault(stream, []).append(payload)
            if flags & END_STREAM:
                self.closed[stream] = "end"
        elif ftype == DATA and flags & END_STREAM:
            self.closed[stream] = "end"
        elif ftype == RST_STREAM:
            self.closed[stream] = struct.unpack(">I", payload)[0]
        elif ftype == GOAWAY:
            self.goaway = True

    def status(self, stream):
        """The :status of the first response header block on stream (it must be literal or one
        of the static-table statuses), or None."""
        blocks = self.responses.get(stream)
        if not blocks:
            return None
        b = blocks[0]
        static = {0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500}
        if b[0] in static:
            return static[b[0]]
        # literal with indexed name (":status" is static entry 8..14): value follows
        if b[0] & 0xF0 in (0x00, 0x10) or b[0] & 0xC0 == 0x40:
            vlen = b[1] & 0x7F
            if not b[1] & 0x80:  # not Huffman
                return int(b[2:2 + vlen])
            return _huffman_status(b[2:2 + vlen])
        return None

    # ---- writing ----------------------------------------------------------------------------
    def request(self, method, path, headers=(), end_stream=False):
        sid = self.next_id
        self.next_id += 2
        block = hpack([(":method", method), (":scheme", "http"), (":path", path),
                       (":authority", "localhost"), *headers])
        self.windows[sid] = self.initial_window
        self.sock.sendall(frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), sid, block))
        return sid

    def send_data(self, sid, data, end_stream=False):
        """Sends as much of data as the windows allow now; returns the count sent."""
        sent = 0
        while sent < len(data):
            n = min(MAX_FRAME, len(data) - sent, self.conn_window, self.windows.get(sid, 0))
            if n <= 0:
                break
            last = end_stream and sent + n == len(data)
            self.sock.sendall(frame(DATA, END_STREAM if last else 0, sid, data[sent:sent + n]))
            self.conn_window -= n
            self.windows[sid] -= n
            sent += n
        if end_stream and sent == len(data) == 0:
            self.sock.sendall(frame(DATA, END_STREAM, sid))
        return sent

    def send_all(self, sid, data, timeout=60):
        """Sends all of data and ends the stream, waiting for window as needed."""
        sent, deadline = 0, time.monotonic() + timeout
        while sent < len(data) or not data:
            sent += self.send_data(sid, data[sent:], end_stream=True)
            if sent == len(data) or sid in self.closed:
                return sent
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {sid}: window stayed shut after {sent} bytes")
            if not self.poll(0.5):
                return sent
        return sent

    def wait_closed(self, sid, timeout=60):
        deadline = time.monotonic() + timeout
        while sid not in self.closed and time.monotonic() < deadline:
            if not self.poll(0.5):
                break
        return self.closed.get(sid)


def _huffman_status(data):
    # the three digits of a Huffman-coded :status: '0'-'2' are 5-bit codes 0x0-0x2, '3'-'9' are
    # 6-bit codes 0x19-0x1f (RFC 7541 Appendix B)
    bits = "".join(f"{b:08b}" for b in data)
    out, i = "", 0
    while len(out) < 3 and i < len(bits):
        if int(bits[i:i + 5], 2) <= 2:
            out += str(int(bits[i:i + 5], 2))
            i += 5
        else:
            out += str(int(bits[i:i + 6], 2) - 0x19 + 3)
            i += 6
    return int(out)
