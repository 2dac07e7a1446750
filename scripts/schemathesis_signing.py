"""Signed schemathesis runs against pcoord (scripts/federation-check schemathesis).

Two uses:

  python3 scripts/schemathesis_signing.py enroll URL TOKEN OUT.json
      Makes a fresh client identity (Ed25519 signing key, X25519 agreement key), enrolls it through
      POST /v1/enroll with the proof of PROTOCOL.md §2.2, and appends its secret seed and client id
      to OUT.json (a throw-away test identity in the check's temporary directory).

  python3 scripts/schemathesis_signing.py summary STATS.jsonl [--signed]
      Counts the answers the hooks recorded, per operation and status (and error code), prints them
      and, with --signed, fails unless every signed operation got answers past authentication.

  SCHEMATHESIS_HOOKS=scripts/schemathesis_signing.py schemathesis run ...
      As a hooks file. Environment: PLLM_ST_URL (the server), PLLM_ST_IDENTITIES (OUT.json above;
      when unset nothing is signed), PLLM_ST_STATS (a JSON-lines file of every answer).
      Signing happens in requests' HTTPAdapter.send, i.e. on the final PreparedRequest: the method,
      the path with query exactly as it goes on the request line, and SHA-256 of the exact body bytes
      (a str body is turned into the bytes http.client would send, and Content-Length set to match),
      a fresh 16-byte nonce and the current time for every request, including schemathesis' retries.
      Signed requests take the identities in turn, so no single client's rate limit (20/s) throttles
      the run. Path parameters `round` and `sha256` are, in some generated cases, replaced by the
      round that is open now and by the blobs the manifest names, so the fuzzed bodies reach an open
      round's handlers and real blobs (Range headers) rather than only 404.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import struct
import sys
import threading
import time

import nacl.public
import nacl.signing
import requests


def _survivors_transcript(p: dict, advertisements: list[dict], u3: list[int]) -> bytes:
    """PROTOCOL.md §1.7 stage 3 (v2): the round's parameters, H(U1) and the survivor ids."""
    ads = sorted(advertisements, key=lambda a: a["sender"])
    roster = _t(b"pllm.secagg.v2.roster") + struct.pack(">I", len(ads)) + b"".join(
        struct.pack(">H", a["sender"]) + _t(base64.b64decode(a["encryptionKey"])) + _t(base64.b64decode(a["maskingKey"])) for a in ads)
    g = p.get("graph") or {}
    return (_t(b"pllm.secagg.v2.survivors") + struct.pack(">QIII", p["round"], p["threshold"], p["vectorLength"], g.get("degree", 0))
            + _t(bytes(g.get("seed", []))) + struct.pack(">I", g.get("threshold", 0)) + _t(hashlib.blake2b(roster, digest_size=32).digest())
            + struct.pack(">I", len(u3)) + b"".join(struct.pack(">H", i) for i in u3))


def _t(b: bytes) -> bytes:
    """T(x) = BE32(len(x)) ‖ x (PROTOCOL.md §1.1)."""
    return struct.pack(">I", len(b)) + b


def enroll_proof(key: nacl.signing.SigningKey, token: str, signing: bytes, agreement: bytes) -> bytes:
    """Ed25519 signature of T("pllm.enroll.v1") ‖ T(token) ‖ T(signing key) ‖ T(agreement key)."""
    return key.sign(_t(b"pllm.enroll.v1") + _t(token.encode()) + _t(signing) + _t(agreement)).signature


def request_signature(key: nacl.signing.SigningKey, method: str, path: str, body: bytes, timestamp: int, nonce: str) -> str:
    """base64 of the signature of T("pllm.request.v1") ‖ T(METHOD) ‖ T(path) ‖ T(SHA-256(body)) ‖ BE64(ts) ‖ T(nonce)."""
    signed = (_t(b"pllm.request.v1") + _t(method.upper().encode()) + _t(path.encode()) +
              _t(hashlib.sha256(body).digest()) + struct.pack(">Q", timestamp) + _t(nonce.encode()))
    return base64.b64encode(key.sign(signed).signature).decode()


def enroll(url: str, token: str, out: str) -> None:
    key = nacl.signing.SigningKey.generate()
    agreement = bytes(nacl.public.PrivateKey.generate().public_key)
    signing = bytes(key.verify_key)
    body = {"token": token, "identity": {"signing": base64.b64encode(signing).decode(), "agreement": base64.b64encode(agreement).decode()},
            "proof": base64.b64encode(enroll_proof(key, token, signing, agreement)).decode(), "name": "schemathesis"}
    r = requests.post(url.rstrip("/") + "/v1/enroll", json=body, timeout=10)
    if r.status_code != 200:
        sys.exit(f"enroll: {r.status_code} {r.text}")
    client_id = r.json()["clientID"]
    if client_id != signing.hex():
        sys.exit(f"enroll: the coordinator answered client id {client_id}, expected {signing.hex()}")
    identities = json.load(open(out)) if os.path.exists(out) else []
    identities.append({"seed": bytes(key).hex(), "clientID": client_id})
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(identities, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(client_id)


# MARK: signing every request on the wire

_UNSIGNED = ("/v1/health", "/v1/enroll", "/metrics")


class _Signer:
    def __init__(self, url: str, identities: list[dict]):
        from urllib.parse import urlsplit
        self.netloc = urlsplit(url).netloc
        self.url = url.rstrip("/")
        self.keys = [nacl.signing.SigningKey(bytes.fromhex(i["seed"])) for i in identities]
        self.by_client = {bytes(k.verify_key).hex(): k for k in self.keys}
        self.turn = itertools.cycle(range(len(self.keys)))
        self.lock = threading.Lock()
        self.signed = 0

    def wants(self, prepared: requests.PreparedRequest) -> bool:
        from urllib.parse import urlsplit
        parts = urlsplit(prepared.url)
        return parts.netloc == self.netloc and not parts.path.startswith(_UNSIGNED)

    def sign(self, prepared: requests.PreparedRequest) -> None:
        body = prepared.body
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            try:  # what http.client sends for a str body
                data = body.encode("iso-8859-1")
            except UnicodeEncodeError:
                data = body.encode("utf-8")
        elif hasattr(body, "read"):
            data = body.read()
            data = data.encode("utf-8") if isinstance(data, str) else data
        else:  # an iterable of chunks
            data = b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
        if body is not None:
            prepared.body = data
            prepared.headers.pop("Transfer-Encoding", None)
            prepared.headers["Content-Length"] = str(len(data))
        pinned = self.by_client.get(str(prepared.headers.get("PLLM-Client", "")))
        with self.lock:
            key = pinned or self.keys[next(self.turn)]
            self.signed += 1
        nonce = os.urandom(16).hex()
        timestamp = int(time.time())
        path = prepared.path_url
        for name in list(prepared.headers):
            if name.lower().startswith("pllm-"):
                del prepared.headers[name]
        prepared.headers["PLLM-Client"] = bytes(key.verify_key).hex()
        prepared.headers["PLLM-Timestamp"] = str(timestamp)
        prepared.headers["PLLM-Nonce"] = nonce
        prepared.headers["PLLM-Signature"] = request_signature(key, prepared.method, path, data, timestamp, nonce)

    def get(self, path: str, client: str | None = None) -> requests.Response:
        """A signed GET of our own (the hooks' look-ups), through the same signing adapter."""
        return requests.get(self.url + path, headers={"PLLM-Client": client} if client else None, timeout=10)

    def statuses(self) -> dict[str, dict]:
        """client id → its RoundStatus (GET /v1/round, which also keeps it available for sampling)."""
        found = {}
        for client in self.by_client:
            r = self.get("/v1/round", client)
            if r.status_code == 200:
                found[client] = r.json()
        return found

    def participants(self) -> dict[str, tuple[int, int, str]]:
        """client id → (open round, participant id, stage) for those of our identities sampled now."""
        return {c: (s["round"], s["participant"], s.get("stage")) for c, s in self.statuses().items()
                if s.get("round") is not None and s.get("participant") is not None}


def _gf_mul(a: int, b: int) -> int:
    """Product in GF(2^16) modulo x^16 + x^12 + x^3 + x + 1 (PROTOCOL.md §1.6)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a & 0x10000:
            a ^= 0x1100B
    return r


def _shamir_split(secret: bytes, threshold: int, xs: list[int], coefficients: list[bytes] | None = None) -> dict[int, bytes]:
    """Shares of `secret` for the indices xs (§1.6): element j = byte[2j] | byte[2j+1] << 8.
    Random coefficients unless given (`selftest` gives those of vectors/shamir.json)."""
    coefficients = coefficients or [os.urandom(len(secret)) for _ in range(threshold - 1)]
    shares = {}
    for x in xs:
        out = bytearray()
        for j in range(0, len(secret), 2):
            y, power = secret[j] | secret[j + 1] << 8, 1
            for c in coefficients:
                power = _gf_mul(power, x)
                y ^= _gf_mul(c[j] | c[j + 1] << 8, power)
            out += bytes((y & 0xFF, y >> 8))
        shares[x] = bytes(out)
    return shares


def _round_driver(signer: _Signer, stop: threading.Event) -> None:
    """Plays the sampled ones among our identities through whole rounds, so every stage opens and
    the fuzzed messages of every stage meet an open round in that stage, not only `wrong_stage`.

    The server only checks the structure of shares and masked inputs (it cannot open them), so the
    driver does not encrypt: each ciphertext is 104 random bytes, each masked input random words,
    and the driver keeps the real Shamir shares of every participant's self-mask seed b_u and
    masking key s_u in memory and reveals them at unmasking (§1.7), so the coordinator's unmasking
    rebuilds consistent secrets and completes the round (its sum is meaningless). Advertisements and
    consistency signatures are real Ed25519 signatures. The driver lets each stage stay open
    $PLLM_ST_DWELL seconds (3) before it answers. Fuzzed messages that arrive first exclude
    their sender (422) and the round goes on, or aborts, without it: both paths are exercised."""
    secrets: dict[tuple[int, int], dict] = {}   # (round, participant) → keys, b_u, shares
    done: set[tuple[int, str, str]] = set()
    seen: dict[tuple[int, str], float] = {}     # (round, stage) → when the driver first saw it
    dwell = float(os.environ.get("PLLM_ST_DWELL", "3"))
    b64 = lambda b: base64.b64encode(b).decode()

    def post(client, rnd, stage, path, **kw):
        r = requests.post(f"{signer.url}/v1/rounds/{rnd}/{path}", headers={"PLLM-Client": client, **kw.pop("headers", {})}, timeout=30, **kw)
        _record(f"driver POST /v1/rounds/{{round}}/{path}", r)
        return r

    while not stop.wait(0.5):
        try:
            for client, status in signer.statuses().items():
                rnd, pid, stage = status.get("round"), status.get("participant"), status.get("stage")
                if rnd is None or pid is None or status.get("submitted") or (rnd, client, stage) in done:
                    continue
                # Each stage stays open `dwell` seconds before the driver answers it, so the fuzzed
                # messages of that stage meet it open (stages last at most 10 s here).
                if time.monotonic() - seen.setdefault((rnd, stage), time.monotonic()) < dwell:
                    continue
                done.add((rnd, client, stage))
                key = signer.by_client[client]
                me = secrets.setdefault((rnd, pid), {})
                if stage == "advertise-keys":
                    c_sk, s_sk = nacl.public.PrivateKey.generate(), nacl.public.PrivateKey.generate()
                    c_pk, s_pk = bytes(c_sk.public_key), bytes(s_sk.public_key)
                    me.update(s_sk=bytes(s_sk), b=os.urandom(32))
                    sig = key.sign(_t(b"pllm.secagg.v1.advertise") + struct.pack(">QH", rnd, pid) + _t(c_pk) + _t(s_pk)).signature
                    post(client, rnd, stage, "advertise-keys", json={"round": rnd, "sender": pid, "encryptionKey": b64(c_pk),
                                                                      "maskingKey": b64(s_pk), "signature": b64(sig)})
                elif stage == "share-keys" and "b" in me:
                    roster = signer.get(f"/v1/rounds/{rnd}/roster", client)
                    if roster.status_code != 200:
                        done.discard((rnd, client, stage))
                        continue
                    u1 = sorted(a["sender"] for a in roster.json()["advertisements"])
                    t = status["parameters"]["threshold"]
                    me["shares_s"] = _shamir_split(me["s_sk"], t, u1)
                    me["shares_b"] = _shamir_split(me["b"], t, u1)
                    shares = [{"sender": pid, "recipient": v, "ciphertext": b64(os.urandom(104))} for v in u1 if v != pid]
                    post(client, rnd, stage, "share-keys", json={"round": rnd, "sender": pid, "shares": shares})
                elif stage == "masked-input":
                    n = status["parameters"]["vectorLength"]
                    post(client, rnd, stage, "masked-input", data=os.urandom(4 * n), headers={"Content-Type": "application/octet-stream"})
                elif stage == "consistency-check":
                    sv = signer.get(f"/v1/rounds/{rnd}/survivors", client)
                    if sv.status_code != 200:
                        done.discard((rnd, client, stage))
                        continue
                    u3 = sv.json()["survivors"]
                    roster = signer.get(f"/v1/rounds/{rnd}/roster", client)
                    if roster.status_code != 200:
                        done.discard((rnd, client, stage))
                        continue
                    sig = key.sign(_survivors_transcript(status["parameters"], roster.json()["advertisements"], u3)).signature
                    post(client, rnd, stage, "consistency", json={"round": rnd, "sender": pid, "signature": b64(sig)})
                elif stage == "unmasking":
                    req = signer.get(f"/v1/rounds/{rnd}/unmask-request", client)
                    mine = signer.get(f"/v1/rounds/{rnd}/shares", client)
                    if req.status_code != 200 or mine.status_code != 200:
                        done.discard((rnd, client, stage))
                        continue
                    u3 = set(req.json()["survivors"])
                    u2 = {s["sender"] for s in mine.json()["shares"]} | {pid}
                    reveal = lambda kind, owners: [{"owner": u, "share": b64(secrets[(rnd, u)][kind][pid])}
                                                   for u in sorted(owners) if kind in secrets.get((rnd, u), {})]
                    post(client, rnd, stage, "unmask", json={"round": rnd, "sender": pid, "selfMaskShares": reveal("shares_b", u3),
                                                             "keyShares": reveal("shares_s", u2 - u3)})
        except Exception as e:  # the driver must never stop the run; its answers are in the stats
            print(f"round driver: {e!r}", file=sys.stderr)


_signer: _Signer | None = None
_stats_lock = threading.Lock()


def _record(op: str, response, case=None) -> None:
    """Appends one answer (operation, status, error code) to $PLLM_ST_STATS."""
    path = os.environ.get("PLLM_ST_STATS")
    if not path:
        return
    code = None
    try:
        body = json.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
    except Exception:
        pass
    entry = {"op": op, "status": response.status_code, "code": code}
    try:
        entry["mode"] = str(case.meta.generation.mode.value)
        entry["phase"] = str(case.meta.phase.name.value)
    except Exception:
        pass
    if case is not None and 400 <= response.status_code < 500 and response.status_code not in (401, 429):
        entry["sent"] = repr(case.body)[:300]
    line = json.dumps(entry)
    with _stats_lock, open(path, "a") as f:
        f.write(line + "\n")


def _install() -> None:
    global _signer
    url, ids = os.environ.get("PLLM_ST_URL"), os.environ.get("PLLM_ST_IDENTITIES")
    if not url or not ids:
        return
    _signer = _Signer(url, json.load(open(ids)))
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        if _signer is not None and _signer.wants(request):
            _signer.sign(request)
        return original(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send


# MARK: schemathesis hooks (only when loaded by schemathesis)

def _register_hooks() -> None:
    import schemathesis
    from hypothesis import strategies as st

    cache: dict[str, tuple[float, object]] = {}

    def cached(name: str, ttl: float, fetch):
        now = time.monotonic()
        hit = cache.get(name)
        if hit and now - hit[0] < ttl:
            return hit[1]
        try:
            value = fetch()
        except Exception:
            value = hit[1] if hit else None
        cache[name] = (now, value)
        return value

    def open_round():
        r = _signer.get("/v1/round")
        return r.json().get("round") if r.status_code == 200 else None

    def blob_hashes():
        r = _signer.get("/v1/manifest")
        if r.status_code != 200:
            return []
        manifest = json.loads(base64.b64decode(r.json()["manifest"]))
        found: list[str] = []

        def walk(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "sha256" and isinstance(x, str):
                        found.append(x)
                    else:
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(manifest)
        return sorted(set(found))

    @schemathesis.hook
    def flatmap_path_parameters(context, path_parameters):
        if _signer is None or not isinstance(path_parameters, dict):
            return st.just(path_parameters)
        choices = [path_parameters]
        if "round" in path_parameters:
            r = cached("round", 1.0, open_round)
            if r is not None:
                choices.append({**path_parameters, "round": r})
        if "sha256" in path_parameters:
            for h in cached("blobs", 30.0, blob_hashes) or []:
                choices.append({**path_parameters, "sha256": h})
        return st.sampled_from(choices)

    alternate = itertools.count()

    @schemathesis.hook
    def map_case(context, case):
        """Every other case with a `round` in its path and body gets the path's round in its body
        and, when one of our identities is sampled in that round, that identity as the caller and its
        participant id as `sender`; the other cases stay exactly as generated."""
        if _signer is None or not isinstance(case.body, dict) or next(alternate) % 2:
            return case
        r = case.path_parameters.get("round")
        if not isinstance(r, int) or isinstance(r, bool) or r < 0:
            return case
        body = dict(case.body)
        if "round" in body:
            body["round"] = r
        if "sender" in body:
            for client, (rnd, pid, _) in (cached("participants", 1.0, _signer.participants) or {}).items():
                if rnd == r:
                    body["sender"] = pid
                    headers = case.headers.copy() if case.headers is not None else {}
                    headers["PLLM-Client"] = client
                    case.headers = headers
                    break
        case.body = body
        return case

    stop = threading.Event()
    threading.Thread(target=_round_driver, args=(_signer, stop), daemon=True).start() if _signer else None

    @schemathesis.hook
    def after_call(context, case, response):
        _record(f"{case.operation.method.upper()} {case.operation.path}", response, case)


def summary(stats: str, signed: bool) -> int:
    from collections import Counter, defaultdict
    per: dict[str, Counter] = defaultdict(Counter)
    codes: dict[str, Counter] = defaultdict(Counter)
    for line in open(stats):
        e = json.loads(line)
        per[e["op"]][e["status"]] += 1
        if e["code"]:
            codes[e["op"]][e["code"]] += 1
    total = sum(sum(c.values()) for c in per.values())
    print(f"{total} answers over {len(per)} operations")
    bad = []
    for op in sorted(per):
        c = per[op]
        statuses = ", ".join(f"{s}×{n}" for s, n in sorted(c.items()))
        top = ", ".join(f"{k} {n}" for k, n in codes[op].most_common(6))
        print(f"  {op}: {sum(c.values())} answers; {statuses}" + (f"; codes: {top}" if top else ""))
        if any(s >= 500 for s in c):
            bad.append(f"{op} answered 5xx")
        is_signed = not op.split(" ", 1)[1].startswith(_UNSIGNED)
        if signed and is_signed and not any(s not in (401, 429) for s in c):
            bad.append(f"{op}: every answer was 401 or 429, nothing got past authentication")
        if signed and is_signed and c[401] > 0:
            bad.append(f"{op}: {c[401]} signed requests were refused with 401")
    for b in bad:
        print("FAIL: " + b)
    return 1 if bad else 0


def selftest(vectors: str) -> int:
    """The Shamir split above against protocol/vectors/shamir.json."""
    v = json.load(open(vectors))
    got = _shamir_split(bytes.fromhex(v["secret"]), len(v["coefficients"]) + 1, [s["x"] for s in v["shares"]],
                        [bytes.fromhex(c) for c in v["coefficients"]])
    bad = [s["x"] for s in v["shares"] if got[s["x"]].hex() != s["y"]]
    print(f"shamir: {len(v['shares']) - len(bad)} of {len(v['shares'])} shares match {vectors}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "selftest":
        sys.exit(selftest(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "enroll":
        enroll(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2], signed=sys.argv[3:] == ["--signed"]))
    else:
        sys.exit(__doc__)
else:
    _install()
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pass
    else:
        _register_hooks()
