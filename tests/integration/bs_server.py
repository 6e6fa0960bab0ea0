"""A scriptable LwM2M Bootstrap server over a raw UDP socket (LwM2M 1.1.1
Core 5.2, Transport 6.x), for tests/integration/test_bootstrap.py.

It shares no code with the gateway: CoAP is built and parsed by hand in
raw_lwm2m.py (also not used by the gateway). A Bootstrap-Request
(POST /bs?ep=...) is answered 2.04 and recorded; then `script(bs, ep)`, if
set, runs on its own thread and drives the client with Bootstrap-Delete,
-Write, -Discover, -Read and -Finish through `request()`, on the address
the Request came from, as a bootstrap server does. The same `request()`
sends a server-initiated bootstrap later.
"""

import json
import threading

from raw_lwm2m import (ACCEPT, ACK, CONTENT_FORMAT, POST, URI_PATH, URI_QUERY, RawServer, code,
                       encode, opts, path_of)

SENML_JSON, LINK = 110, 40


def senml(base, values):
    """SenML JSON for a Bootstrap-Write: values maps resource id to a str
    (vs), bool (vb), int/float (v) or bytes (vd, base64url)."""
    import base64
    recs = []
    for i, (rid, val) in enumerate(sorted(values.items())):
        r = {"n": str(rid)}
        if i == 0:
            r["bn"] = base.rstrip("/") + "/"
        if isinstance(val, bool):
            r["vb"] = val
        elif isinstance(val, bytes):
            r["vd"] = base64.urlsafe_b64encode(val).decode().rstrip("=")
        elif isinstance(val, str):
            r["vs"] = val
        else:
            r["v"] = val
        recs.append(r)
    return json.dumps(recs).encode()


class BsServer(RawServer):
    def __init__(self):
        super().__init__()
        self.bs_requests = []      # (endpoint, query dict)
        self.script = None         # script(bs, ep), run after each Bootstrap-Request
        self.script_errors = []
        self.results = {}          # ep -> what the script returned

    def _on_request(self, m):
        if m["code"] == POST and path_of(m) == "/bs":
            query = dict(q.decode().split("=", 1) for q in opts(m, URI_QUERY))
            ep = query.get("ep")
            self._send(m["addr"], encode(ACK, code(2, 4), m["mid"], m["token"]))
            with self._cond:
                self.clients[ep] = m["addr"]
                self.bs_requests.append((ep, query))
                self._cond.notify_all()
            if self.script:
                threading.Thread(target=self._run_script, args=(ep,), daemon=True).start()
            return
        super()._on_request(m)

    def _run_script(self, ep):
        try:
            res = self.script(self, ep)
            with self._cond:
                self.results[ep] = res
                self._cond.notify_all()
        except Exception as e:  # reported by the test through wait_result
            with self._cond:
                self.script_errors.append("%s: %r" % (ep, e))
                self._cond.notify_all()

    def wait_bs_request(self, ep, count=1, timeout=10):
        return self.wait(lambda: [r for r in self.bs_requests if r[0] == ep][count - 1:count] or None,
                         timeout, "Bootstrap-Request %d of %s" % (count, ep))[0]

    def wait_result(self, ep, timeout=20):
        def got():
            if self.script_errors:
                raise AssertionError("bootstrap script failed: " + "; ".join(self.script_errors))
            return (ep in self.results) and (self.results[ep],)
        return self.wait(got, timeout, "bootstrap script of " + ep)[0]

    # -- the operations, each returning (code "2.04", payload bytes)
    def op(self, ep, mcode, path, cf=None, accept=None, payload=b""):
        o = []
        if cf is not None:
            o.append((CONTENT_FORMAT, cf))
        if accept is not None:
            o.append((ACCEPT, accept))
        r = self.request(ep, mcode, path if path != "/" else "", o, payload)
        return "%d.%02d" % (r["code"] >> 5, r["code"] & 31), r["payload"]

    def finish(self, ep):
        r = self.request(ep, POST, "", [(URI_PATH, "bs")])
        return "%d.%02d" % (r["code"] >> 5, r["code"] & 31), r["payload"]
