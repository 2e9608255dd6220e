#!/usr/bin/env python3
"""bench/token_bench.py — POST /api/token through lighttpd, measured against what this
machine's OpenSSL can do.

Every request verifies the site's RS256 JWT (one RSA public-key operation) and decrypts
the user payload (one RSA-2048 private-key operation per 256-byte block), so a private
key operation bounds it. The bench measures, in the same run:
  openssl speed -seconds N rsa2048     RSA-2048 sign/s and verify/s on one core
  wrk -s bench/token.lua               POST /api/token with a real site token (jsonwebtoken +
                                       node-rsa, one-block payload), FastCGI processes = cores
  the same POST to /bench/hello-close  the hello-world FastCGI baseline (bench/hello.c) behind
                                       the same lighttpd with the same process count: what
                                       the web server, the FastCGI hop and wrk cost a request
in --rounds interleaved rounds, and prints each round's requests/s, p99 latency and ratio
requests/s / (cores x sign/s), then the median ratio, whose target is at least 0.7.

It also prints the ceiling of that ratio on this machine: the ratio of a handler that did
nothing but the two RSA operations behind the same lighttpd, (1 / sign/s) / (1 / sign/s +
1 / verify/s + cores / hello requests/s). Where RSA is fast next to the request's fixed
cost the ceiling falls, and the target can lie above it.

Usage: bench/token_bench.py [--build DIR] [--seconds N] [--rounds N] [--connections N]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys

from poll_bench import wrk

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
SHARED_SECRET = "bench-shared-secret"


def site(request):
    p = subprocess.run(["node", os.path.join(SRCDIR, "tests", "integration", "site_tokens.cjs")],
                       input=json.dumps(request), capture_output=True, text=True, check=True, timeout=60)
    return json.loads(p.stdout)


def rsa_per_second(seconds):
    """(sign/s, verify/s) of RSA-2048 on one core."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"],
                         capture_output=True, text=True, check=True).stdout
    # "rsa 2048 bits 0.000693s 0.000020s   1443.2  49567.2": sign/s, then verify/s.
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["DESKBRIDGE_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
    import harness
    from test_setup_session import cookie_of, login

    hello = os.path.join(args.build, "bench", "hello")
    if not os.access(hello, os.X_OK):
        sys.exit("build the baseline first: make -C %s bench/hello" % args.build)
    cores = os.cpu_count() or 1
    rounds = []
    server = harness.Server(procs=cores, env={"DESKBRIDGE_SRCDIR": SRCDIR, "DESKBRIDGE_BENCH_HELLO": hello})
    server.config = os.path.join(HERE, "lighttpd-bench.conf")
    server.start()
    try:
        admin = server.state.admin
        admin("config", "set", "limits.token_per_minute", "100000")
        keys = site({"action": "keypair"})
        r = login(server)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        r = server.request("PATCH", "/api/setup/config", headers=session, body={
            "zendesk": {"shared_secret": SHARED_SECRET, "messaging": {"jwt_key_id": "app_64f1c2a8e4b0d1001f2c3d4e"}},
            "security": {"authenticate_users": True, "issuer": "https://shop.example",
                         "site_public_keys": [{"kid": "shop", "pem": keys["public"]}]}})
        assert r.status == 200, r.body
        token = site({"action": "sign", "privateKey": keys["private"], "options": {"expiresIn": "1h", "keyid": "shop"},
                      "claims": {"sub": "customer-42", "iss": "https://shop.example", "acr": "loa1"},
                      "publicKey": server.request("GET", "/api/public-key").body.decode(),
                      "payload": {"name": "Ana Lima", "email": "ana@shop.example"}})["token"]
        body = json.dumps({"token": token})
        check = server.request("POST", "/api/token", body=body.encode(), headers={"Content-Type": "application/json"})
        assert check.status == 200, check.body
        env = dict(os.environ, TOKEN_BODY=body)
        # Rounds of the three, interleaved, each ratio from its own round: the machine's
        # pace drifts by a tenth within a minute, and one openssl run against one wrk
        # run took that drift for a result.
        base = "http://127.0.0.1:%d" % server.port
        script = os.path.join(HERE, "token.lua")
        for _ in range(args.rounds):
            sign, verify = rsa_per_second(args.seconds)
            hello, _, hello_non2xx = wrk(base + "/bench/hello-close", args.seconds, args.connections,
                                         script=script, env=env)
            rps, p99, non2xx = wrk(base + "/api/token", args.seconds, args.connections, script=script, env=env)
            ceiling = (1 / sign) / (1 / sign + 1 / verify + cores / hello)
            rounds.append({"sign": sign, "verify": verify, "hello": hello, "rps": rps, "p99": p99,
                           "non2xx": non2xx + hello_non2xx, "ratio": rps / (cores * sign), "ceiling": ceiling})
    finally:
        server.stop()
        server.state.remove()
    for i, r in enumerate(rounds, 1):
        print("round %d: openssl speed rsa2048 %.0f sign/s and %.0f verify/s per core, %d cores; hello %.0f requests/s;"
              " POST /api/token %.0f requests/s, p99 %.2f ms, non-2xx %d; ratio %.2f, ceiling %.2f"
              % (i, r["sign"], r["verify"], cores, r["hello"], r["rps"], r["p99"], r["non2xx"], r["ratio"],
                 r["ceiling"]))
    ratio = statistics.median(r["ratio"] for r in rounds)
    ceiling = statistics.median(r["ceiling"] for r in rounds)
    share = statistics.median(r["ratio"] / r["ceiling"] for r in rounds)
    print("ceiling on this machine (a handler doing only the two RSA operations) = %.2f;"
          " deskbridge reaches %.2f of it" % (ceiling, share))
    print("ratio requests/s / (cores x sign/s), median of %d rounds = %.2f (target at least 0.70: %s)"
          % (len(rounds), ratio, "met" if ratio >= 0.7 else "NOT met"))


if __name__ == "__main__":
    main()
