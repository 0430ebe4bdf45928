"""A tiny authoritative DNS server for tests, speaking real DNS over UDP.

Tests set records in `DNSStandin.records` ({name: {"CNAME": [...], "TXT": [...]}})
and the code under test queries it through dnspython like any nameserver.
A name that is not in the dict answers NXDOMAIN; a known name without the
asked type answers NOERROR with no records (NODATA); a name in `servfail`
answers SERVFAIL.

`SilentNameserver` binds a UDP port and never answers, for timeout cases.
"""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 60


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)  # lets the serving thread notice stop() promptly
    return sock


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _UDPThread:
    def __init__(self):
        self.sock = _bind()
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.handle(wire)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def handle(self, wire: bytes) -> bytes | None:
        raise NotImplementedError


class DNSStandin(_UDPThread):
    """Authoritative answers for the names in `records`, nothing else."""

    def __init__(self):
        super().__init__()
        self.records: dict[str, dict[str, list[str]]] = {}
        self.servfail: set[str] = set()  # names whose zone is broken
        self.queries: list[tuple[str, str]] = []

    def set(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), {})[rdtype.upper()] = list(values)

    def handle(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None  # not DNS; a real server would drop it too
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        values = self.records[name].get(rdtype, [])
        if values:
            if rdtype == "TXT":
                values = [_quoted(v) for v in values]
            elif rdtype == "CNAME":
                values = [v if v.endswith(".") else v + "." for v in values]
            response.answer.append(dns.rrset.from_text(question.name, TTL, dns.rdataclass.IN, question.rdtype, *values))
        return response.to_wire()


class SilentNameserver(_UDPThread):
    """Reads queries and never answers: every lookup against it times out."""

    def __init__(self):
        super().__init__()
        self.received = 0

    def handle(self, wire: bytes) -> bytes | None:
        self.received += 1
        return None
