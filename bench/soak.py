#!/usr/bin/env python3
"""bench/soak.py — load and soak: many concurrent transfers through lighttpd against the
fake Zendesk for minutes, with nothing lost or repeated.

Starts the real deskbridge (lighttpd, one FastCGI process per core for each handler, a
fresh SQLite file) and the fake Zendesk, hands --transfers visitors over to agents (an
agent joins each), measures the baseline (the same visitors, connections and pace
against bench/hello.c behind the same lighttpd, for --baseline-seconds), then for
--minutes every visitor polls its events at the pace deskbridge gives (poll_after_ms,
with If-None-Match) and writes now and then (--message-every seconds, on average), while
agents answer at --agent-rate messages a second across the conversations. The visitors
share a pool of keep-alive connections, as a reverse proxy would. At the end it waits
for the outbox to drain and checks that every message a visitor got 202 for reached
Zendesk exactly once and in order, and that every agent message reached its visitor
exactly once. It prints the poll latency (p50/p99/max) and its ratios to the baseline's,
requests per second, errors by status, the handlers' RSS and open file descriptors at
the start and the end (lighttpd's connections apart, since they follow the load; once
the visitors have gone they must close), and, as its last line, the verdict.

Usage: bench/soak.py [--transfers 10000] [--minutes 5] [--baseline-seconds 30] [--build DIR]
"""

import argparse
import asyncio
import collections
import concurrent.futures
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)


class Pool:
    """Keep-alive HTTP/1.1 connections to one host, shared by every visitor."""

    def __init__(self, port, size):
        self.port = port
        self.idle = []
        self.slots = asyncio.Semaphore(size)

    async def request(self, method, path, headers=None, body=None):
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            for attempt in (1, 2):
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    answer = await self._exchange(conn, method, path, headers or {}, body)
                    self.idle.append(conn)
                    return answer
                except (ConnectionError, asyncio.IncompleteReadError):
                    conn[1].close()
                    conn = None   # the server closed a kept-alive connection: once more, new
                    if attempt == 2:
                        raise

    async def _exchange(self, conn, method, path, headers, body):
        reader, writer = conn
        data = json.dumps(body).encode() if body is not None else b""
        head = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Content-Length: %d" % len(data)]
        if body is not None:
            head.append("Content-Type: application/json")
        head += ["%s: %s" % kv for kv in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        got = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            k, _, v = line.decode("latin-1").partition(":")
            got[k.strip().lower()] = v.strip()
        length = int(got.get("content-length", "0"))
        payload = await reader.readexactly(length) if length else b""
        if got.get("connection", "").lower() == "close":
            raise ConnectionError("server closes")   # answered, but not reusable
        return status, got, payload


class Soak:
    def __init__(self, args):
        self.args = args
        self.errors = collections.Counter()
        self.agent_sent = collections.defaultdict(list)   # cid -> texts
        self.lock = threading.Lock()

    async def timed(self, pool, *a, **k):
        try:
            status, headers, body = await pool.request(*a, **k)
        except (OSError, asyncio.IncompleteReadError) as e:
            self.errors["connection: " + type(e).__name__] += 1
            return None, None, None
        if status >= 400:
            code = ""
            if body[:1] == b"{":
                code = " " + json.loads(body).get("error", {}).get("code", "")
            self.errors["%d%s" % (status, code)] += 1
        return status, headers, body

    def say(self, fake, cid, text):
        try:
            status, _ = fake.agent_says(cid, text)
        except OSError:
            status = 0
        if status == 200:
            with self.lock:
                self.agent_sent[cid].append(text)
        else:
            with self.lock:
                self.errors["webhook %s" % status] += 1

    def agents(self, fake, cids, until, rate):
        """Agents answering at rate messages a second, spread at random over the
        conversations. Each message is queued as a webhook at its time, not after the last
        one was answered, so a slow answer shows as a backlog instead of a slower pace."""
        interval, n, queued = 1.0 / rate, 0, []
        due = time.time()
        while due < until:
            time.sleep(max(0.0, due - time.time()))
            n += 1
            cid, text = random.choice(cids), "agent line %d" % n
            queued.append((cid, text, fake.deliver_queued(fake.agent_message_event(cid, text))))
            due += interval
        for cid, text, item in queued:
            item["done"].wait(120)
            with self.lock:
                if item["status"] == 200:
                    self.agent_sent[cid].append(text)
                else:
                    self.errors["webhook %s" % item["status"]] += 1


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def connected_sockets():
    """Inodes of the connected sockets on the machine: TCP not listening, Unix connected."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            inodes.update(line.split()[9] for line in f.readlines()[1:] if line.split()[3] != "0A")
    with open("/proc/net/unix") as f:
        inodes.update(line.split()[6] for line in f.readlines()[1:] if line.split()[5] == "03")
    return inodes


def processes(server):
    """Processes, RSS, open descriptors, and how many of those are lighttpd's
    connections (to the visitors, and to the handlers for the requests in flight): they
    follow the load, and a leak shows in the rest, or in connections that stay open once
    the visitors have gone."""
    pids = server.handler_pids() + [server.proc.pid]
    rss = fds = 0
    connected = connected_sockets()
    conns = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            links = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    links.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            fds += len(links)
            if pid == server.proc.pid:
                conns = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in connected)
        except (OSError, StopIteration):
            pass
    return len(pids), rss, fds, conns


def pools(server):
    """lighttpd's pid, and the handlers' pids by pool: the FastCGI socket each listens on
    (its standard input) names the pool."""
    paths = {}
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 8:
                paths[fields[6]] = fields[7]
    by_pool = collections.defaultdict(list)
    for pid in server.handler_pids():
        try:
            inode = os.readlink("/proc/%d/fd/0" % pid).strip("socket:[]")
        except OSError:
            continue
        name = re.sub(r"\.sock.*", "", os.path.basename(paths.get(inode, "?")))
        if not name.startswith("hello"):   # the baseline's, idle once it has run
            by_pool[name].append(pid)
    by_pool["lighttpd"] = [server.proc.pid]
    return by_pool


def pool_cpu(by_pool):
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in by_pool.items()}


def sample_every(seconds, until, server, fake, by_pool):
    """Every so often during the load, what builds up: the database's log and file, the
    deliveries waiting in the outbox, the webhooks the fake Zendesk has yet to send, and
    the CPU of each pool since the last sample."""
    db = server.state.db
    last, at = pool_cpu(by_pool), time.monotonic()
    started = at
    while time.time() + seconds <= until:
        time.sleep(seconds)
        now, cpu = time.monotonic(), pool_cpu(by_pool)
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5) as c:
            pending = c.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        size = lambda path: os.path.getsize(path) / 1e6 if os.path.exists(path) else 0.0
        print("  at %3.0f s: log %.0f MB, database %.0f MB, outbox pending %d, webhooks waiting %d; CPU %s"
              % (now - started, size(db + "-wal"), size(db), pending, fake.pending_webhooks(),
                 ", ".join("%s %.2f" % (k, (cpu[k] - last.get(k, 0)) / (now - at))
                           for k in sorted(cpu, key=lambda k: cpu[k] - last.get(k, 0), reverse=True)[:4])),
              flush=True)
        last, at = cpu, now


async def main_async(args, server, fake, loadgen):
    soak = Soak(args)
    pool = Pool(server.port, 256)
    started = time.time()

    async def create(i):
        status, _, body = await soak.timed(pool, "POST", "/api/transfers", body={
            "visitor": {"name": "Soak %d" % i, "email": "soak%d@soak.example" % i},
            "message_to_human_agent": "soak test", "history": [{"from": "user", "text": "hello bot %d" % i}]})
        return json.loads(body) if status == 201 else None

    created = [c for c in await asyncio.gather(*(create(i) for i in range(args.transfers))) if c]
    print("created %d transfers in %.0f s" % (len(created), time.time() - started), flush=True)
    by_id = {}
    deadline = time.time() + 300
    while len(by_id) < len(created) and time.time() < deadline:
        # Handoffs run after each 201; polls deliver what is still due.
        with fake.lock:
            for c in fake.conversations.values():
                tid = (c["metadata"] or {}).get("deskbridge_transfer_id")
                if tid and c["control"]:
                    by_id[tid] = c["id"]
        waiting = [c for c in created if c["id"] not in by_id]
        await asyncio.gather(*(soak.timed(pool, "GET", "/api/transfers/%s/events?after=0" % c["id"],
                                          headers={"Authorization": "Bearer " + c["secret"]})
                               for c in waiting[:200]))
        await asyncio.sleep(0.5)
    handed = [c for c in created if c["id"] in by_id]
    print("handed over %d in %.0f s" % (len(handed), time.time() - started), flush=True)
    for _, writer in pool.idle:
        writer.close()
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(args.agent_threads) as agents:
        await asyncio.gather(*(loop.run_in_executor(agents, soak.say, fake, by_id[c["id"]], "hello from the agent")
                               for c in handed))
    soak.errors.clear()

    visitors_file = os.path.join(server.state.dir, "visitors.txt")
    with open(visitors_file, "w") as f:
        f.writelines("%s %s\n" % (c["id"], c["secret"]) for c in handed)
    base = baseline(args, server, loadgen, visitors_file)
    print("baseline, %s behind the same lighttpd, as many visitors once a second for %g s: "
          "%.0f requests/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; errors %s"
          % (BASELINE_PATH, args.baseline_seconds, base["requests"] / base["seconds"], base["latency_ms"]["p50"],
             base["latency_ms"]["p99"], base["latency_ms"]["max"], base["errors"] or "none"), flush=True)
    results_file = os.path.join(server.state.dir, "loadgen.json")
    rate = args.agent_rate or len(handed) / args.message_every
    seconds = args.minutes * 60
    gen = subprocess.Popen([loadgen, "--port", str(server.port), "--visitors", visitors_file,
                            "--seconds", str(seconds), "--message-every", str(args.message_every),
                            "--connections", str(args.connections), "--out", results_file], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    until = time.time() + seconds
    threads = [threading.Thread(target=soak.agents, daemon=True, args=(fake, list(by_id.values()), until, rate))]
    for t in threads:
        t.start()
    # Every visitor has its connection open within the first seconds; measure from then.
    await asyncio.sleep(min(30.0, seconds / 4))
    first = processes(server)
    by_pool = pools(server)
    cpu0 = pool_cpu(by_pool), cpu_seconds(gen.pid), sum(os.times()[:2]), time.monotonic()
    print("start: %d processes, RSS %d KiB, open fds %d (lighttpd's connections %d)" % first, flush=True)
    threading.Thread(target=sample_every, daemon=True, args=(30, until, server, fake, by_pool)).start()
    line = await loop.run_in_executor(None, gen.stdout.readline)
    cpu1 = pool_cpu(by_pool), cpu_seconds(gen.pid), sum(os.times()[:2]), time.monotonic()
    last = processes(server)
    print("end:   %d processes, RSS %d KiB, open fds %d (lighttpd's connections %d)" % last, flush=True)
    for t in threads:
        t.join()
    if line.strip() != "load done":
        gen.kill()
        return "soak: FAIL (the load generator stopped: %r)" % line
    # The drain: the visitors poll on until each has seen what its agent sent.
    with soak.lock:
        gen.stdin.write("".join("%s %d\n" % (c["id"], len(soak.agent_sent[by_id[c["id"]]])) for c in handed))
    gen.stdin.write("end\n")
    gen.stdin.flush()
    await loop.run_in_executor(None, gen.wait)
    # The visitors have gone: their connections, and those to the handlers, close; the
    # fake Zendesk's webhook senders keep theirs alive.
    for _ in range(20):
        after = processes(server)
        if after[3] <= args.webhook_workers:
            break
        await asyncio.sleep(0.5)
    print("after: open fds %d (lighttpd's connections %d)" % after[2:], flush=True)
    with open(results_file) as f:
        got = json.load(f)

    def delivered(cid):
        with fake.lock:
            return [m["content"]["text"] for m in fake.conversations[cid]["messages"]
                    if m["author"]["type"] == "user"][1:]
    drain_until = time.time() + 120
    while time.time() < drain_until:
        if all(len(delivered(by_id[tid])) >= len(v["sent"]) for tid, v in got["visitors"].items()):
            break
        await asyncio.sleep(1)
    sent = dup = lost = disorder = agent_dup = agent_lost = 0
    for tid, v in got["visitors"].items():
        cid = by_id[tid]
        want = [text for text, _ in sorted(v["sent"], key=lambda pair: pair[1])]
        sent += len(want)
        have = delivered(cid)
        counts = collections.Counter(have)
        dup += sum(n - 1 for n in counts.values() if n > 1)
        lost += sum(1 for t in want if t not in counts)
        disorder += int([t for t in have if counts[t] == 1] != [t for t in want if counts.get(t) == 1])
        seen = collections.Counter(v["agent_seen"])
        agent_dup += sum(n - 1 for n in seen.values() if n > 1)
        agent_lost += sum(1 for t in soak.agent_sent[cid] if t not in seen)
    agent_total = sum(len(x) for x in soak.agent_sent.values()) - len(handed)   # without the hellos
    lat = got["latency_ms"]
    elapsed = cpu1[3] - cpu0[3]
    errors = collections.Counter(got["errors"]) + soak.errors
    if got["out_of_sequence"]:
        errors["events out of sequence"] += got["out_of_sequence"]
    print("visitors %d for %.1f min: %d requests (%.0f/s); polls %d, latency p50 %.1f ms, p99 %.1f ms, "
          "p99.9 %.1f ms, max %.1f ms" % (len(got["visitors"]), got["seconds"] / 60, got["requests"],
                                          got["requests"] / got["seconds"], got["polls"], lat["p50"], lat["p99"],
                                          lat["p999"], lat["max"]))
    print("visitor messages: accepted %d, duplicated %d, lost %d, transfers out of order %d"
          % (sent, dup, lost, disorder))
    print("agent messages: sent %d (%.0f/s, %.0f/s asked), seen twice %d, never seen %d"
          % (agent_total, agent_total / got["seconds"], rate, agent_dup, agent_lost))
    used = {name: (cpu1[0][name] - cpu0[0].get(name, 0)) / elapsed for name in cpu1[0]}
    print("CPU, in cores of %d: deskbridge %.2f (%s), visitors (bench/loadgen) %.2f, fake Zendesk and agents %.2f"
          % (os.cpu_count(), sum(used.values()),
             ", ".join("%s %.2f" % (name, used[name]) for name in sorted(used, key=used.get, reverse=True)),
             (cpu1[1] - cpu0[1]) / elapsed, (cpu1[2] - cpu0[2]) / elapsed))
    print("errors: %s" % (dict(errors) or "none"))
    print("against the baseline: requests/s %.2f, poll p99 %.1f times the hello's"
          % (got["requests"] / got["seconds"] / (base["requests"] / base["seconds"]),
             lat["p99"] / base["latency_ms"]["p99"] if base["latency_ms"]["p99"] else float("nan")))
    growth_rss = last[1] / first[1] if first[1] else 0
    reasons = []
    if len(got["visitors"]) < args.transfers:
        reasons.append("%d of %d transfers handed over" % (len(got["visitors"]), args.transfers))
    if dup or lost or disorder or agent_dup or agent_lost or got["out_of_sequence"]:
        reasons.append("messages lost, repeated or out of order")
    if last[2] - last[3] > first[2] - first[3] + 2 * first[0]:
        reasons.append("open fds other than connections grew from %d to %d"
                       % (first[2] - first[3], last[2] - last[3]))
    if after[3] > args.webhook_workers:
        reasons.append("%d of lighttpd's connections still open after the visitors left, with %d webhook senders"
                       % (after[3], args.webhook_workers))
    if growth_rss > 1.25:
        reasons.append("RSS grew %.0f%%" % ((growth_rss - 1) * 100))
    if lat["p99"] > args.p99_ms:
        reasons.append("poll p99 %.1f ms over %g ms" % (lat["p99"], args.p99_ms))
    if any(not k.startswith(("429", "503")) for k in errors):
        reasons.append("undocumented errors")
    return "soak: PASS" if not reasons else "soak: FAIL (%s)" % "; ".join(reasons)


BASELINE_PATH = "/bench/hello-close"


def baseline(args, server, loadgen, visitors_file):
    """The same visitors and connections through the same lighttpd, each getting the
    hello-world FastCGI handler (bench/hello.c) once a second: what this machine gives a
    handler that does nothing, with the load generator on the same cores."""
    out = os.path.join(server.state.dir, "baseline.json")
    subprocess.run([loadgen, "--port", str(server.port), "--visitors", visitors_file, "--baseline", BASELINE_PATH,
                    "--seconds", str(args.baseline_seconds), "--connections", str(args.connections),
                    "--drain-seconds", "0", "--out", out], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    with open(out) as f:
        return json.load(f)


def print_handler_times(log_path):
    """The handlers' own time per route, from the line each logs per request."""
    times = collections.defaultdict(list)
    line_re = re.compile(r" (\w+)\[\d+\] info: (GET|POST) (\S+) (\d+) ([\d.]+)ms$")
    with open(log_path, "rb") as f:
        for raw in f:
            m = line_re.search(raw.decode("utf-8", "replace").rstrip("\n"))
            if m:
                route = re.sub(r"/tr_[0-9a-f]+", "/{id}", m.group(3))
                times["%s %s %s" % (m.group(2), route, m.group(4))].append(float(m.group(5)))
    print("handler time by route (the handlers' own log; a poll logs only when refused or 50 ms or slower), ms:")
    for route, ms in sorted(times.items(), key=lambda kv: -len(kv[1])):
        print("  %-48s %8d  p50 %6.1f  p99 %7.1f  max %7.1f"
              % (route, len(ms), percentile(ms, 0.5), percentile(ms, 0.99), max(ms)))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--transfers", type=int, default=10000)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--message-every", type=float, default=30.0)
    ap.add_argument("--agent-rate", type=float, default=0,
                    help="agent messages a second in all (default: one per visitor every --message-every s)")
    ap.add_argument("--connections", type=int, default=4096,
                    help="keep-alive connections the visitors share, as behind a reverse proxy "
                         "(0: one per visitor, as browsers hold them; lighttpd then needs two "
                         "descriptors per visitor)")
    ap.add_argument("--agent-threads", type=int, default=16, help="threads that say the agents' hellos")
    ap.add_argument("--webhook-workers", type=int, default=8)
    ap.add_argument("--p99-ms", type=float, default=100.0)
    ap.add_argument("--baseline-seconds", type=float, default=30.0,
                    help="how long the hello-world baseline runs before the load")
    ap.add_argument("--zendesk-procs", type=int, default=16,
                    help="processes of the transfer pool that call Zendesk (DESKBRIDGE_ZENDESK_PROCS)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    os.environ["DESKBRIDGE_BUILDDIR"] = build
    subprocess.run(["make", "-s", "-C", build, "bench/loadgen", "bench/hello"], check=True)
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
    sys.path.insert(0, os.path.join(SRCDIR, "tests"))
    import harness
    from fake_zendesk import FakeZendesk

    fake = FakeZendesk(agents_online=5, webhook_workers=args.webhook_workers, webhook_keep_alive=True).start()
    # Python switches threads every 5 ms by default: the fake Zendesk's answers would wait
    # behind its webhook workers' turns, which a real Zendesk does not make anyone do.
    sys.setswitchinterval(0.0005)
    server = harness.Server(procs=max(2, os.cpu_count() or 1), zendesk_procs=args.zendesk_procs,
                            env={"DESKBRIDGE_SRCDIR": SRCDIR, "DESKBRIDGE_BENCH_HELLO": os.path.join(build, "bench", "hello")})
    server.config = os.path.join(HERE, "lighttpd-bench.conf")
    server.start()
    try:
        harness.connect_zendesk(server, fake, "soak-webhook-secret")
        server.state.admin("config", "set", "transfers.join_timeout_s", "3600")
        verdict = asyncio.run(main_async(args, server, fake, os.path.join(build, "bench", "loadgen")))
        print_handler_times(server.log_path)
        if verdict != "soak: PASS":
            with open(server.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(server.log_path) - (8 << 20)))
                tail = f.read().decode("utf-8", "replace")
            said = collections.Counter(re.sub(r"\d+", "N", line) for line in tail.splitlines()[1:] if line.strip())
            print("the server's log (its last 8 MiB), most frequent lines first (numbers as N):")
            for line, n in said.most_common(12):
                print("  %7d  %s" % (n, line[:200]))
    finally:
        fake.stop()
        server.stop()
        server.state.remove()
    print(verdict)
    return 0 if verdict == "soak: PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
