#!/usr/bin/env python3
"""bench/soak.py — load and soak: many concurrent transfers through lighttpd against the
fake Zendesk for minutes, with nothing lost or repeated.

Starts the real deskbridge (lighttpd, one FastCGI process per core for each handler, a
fresh SQLite file) and the fake Zendesk, hands --transfers visitors over to agents (an
agent joins each), then for --minutes every visitor polls its events at the pace
deskbridge gives (poll_after_ms, with If-None-Match) and writes now and then
(--message-every seconds, on average), while agents answer at --agent-rate messages a
second across the conversations. The visitors share a pool of keep-alive connections,
as a reverse proxy would. At the end it waits for the outbox to drain and checks that
every message a visitor got 202 for reached Zendesk exactly once and in order, and that
every agent message reached its visitor exactly once. It prints the poll latency
(p50/p99/max), requests per second, errors by status, the handlers' RSS and open file
descriptors at the start and the end, and, as its last line, the verdict.

Usage: bench/soak.py [--transfers 2000] [--minutes 5] [--build DIR]
"""

import argparse
import asyncio
import collections
import json
import os
import random
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


class Visitor:
    def __init__(self, tid, secret, cid):
        self.id, self.auth, self.cid = tid, {"Authorization": "Bearer " + secret}, cid
        self.next, self.etag, self.poll_ms = 0, None, 1000
        self.sent = []              # texts deskbridge answered 202 for, in seq order
        self.accepted_seq = {}
        self.agent_seen = []


class Soak:
    def __init__(self, args):
        self.args = args
        self.latencies = []
        self.errors = collections.Counter()
        self.requests = 0
        self.agent_sent = collections.defaultdict(list)   # cid -> texts
        self.lock = threading.Lock()

    async def timed(self, pool, *a, **k):
        started = time.monotonic()
        try:
            status, headers, body = await pool.request(*a, **k)
        except (OSError, asyncio.IncompleteReadError) as e:
            self.errors["connection: " + type(e).__name__] += 1
            return None, None, None, time.monotonic() - started
        self.requests += 1
        if status >= 400:
            code = ""
            if body[:1] == b"{":
                code = " " + json.loads(body).get("error", {}).get("code", "")
            self.errors["%d%s" % (status, code)] += 1
        return status, headers, body, time.monotonic() - started

    async def visitor_loop(self, pool, v, until):
        await asyncio.sleep(random.random() * 1.0)
        next_message = time.monotonic() + random.expovariate(1.0 / self.args.message_every)
        n = 0
        while time.monotonic() < until:
            if time.monotonic() >= next_message:
                n += 1
                text = "%s says %d" % (v.id, n)
                cmid = "c%d" % n
                for _ in range(20):   # retried with the same client_message_id, as the library does
                    status, _, body, _ = await self.timed(pool, "POST", "/api/transfers/%s/messages" % v.id,
                                                          headers=v.auth, body={"client_message_id": cmid, "text": text})
                    if status == 202:
                        v.accepted_seq[text] = json.loads(body)["seq"]
                        v.sent.append(text)
                        break
                    await asyncio.sleep(0.5)
                next_message = time.monotonic() + random.expovariate(1.0 / self.args.message_every)
            await self.poll(pool, v)
            await asyncio.sleep(v.poll_ms / 1000.0)

    async def poll(self, pool, v, record=True):
        headers = dict(v.auth)
        if v.etag:
            headers["If-None-Match"] = v.etag
        status, got, body, took = await self.timed(pool, "GET", "/api/transfers/%s/events?after=%d" % (v.id, v.next),
                                                   headers=headers)
        if record and status is not None:
            self.latencies.append(took)
        if status == 200:
            data = json.loads(body)
            v.etag = got.get("etag")
            v.poll_ms = data.get("poll_after_ms", v.poll_ms)
            for e in data["events"]:
                if e["seq"] != v.next + 1:
                    self.errors["events out of sequence"] += 1
                v.next = e["seq"]
                if e["type"] == "message" and e["from"] == "agent":
                    v.agent_seen.append(e["text"])

    def agents(self, fake, visitors, until):
        """Agents answering at --agent-rate messages a second, spread over the conversations."""
        n = 0
        while time.time() < until:
            v = random.choice(visitors)
            n += 1
            text = "agent line %d" % n
            try:
                status, _ = fake.agent_says(v.cid, text)
            except OSError:
                status = 0
            if status == 200:
                with self.lock:
                    self.agent_sent[v.cid].append(text)
            else:
                self.errors["webhook %s" % status] += 1
            time.sleep(1.0 / self.args.agent_rate)


def processes(server):
    pids = server.handler_pids() + [server.proc.pid]
    rss = fds = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            fds += len(os.listdir("/proc/%d/fd" % pid))
        except (OSError, StopIteration):
            pass
    return len(pids), rss, fds


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


async def main_async(args, server, fake):
    soak = Soak(args)
    pool = Pool(server.port, args.connections)
    started = time.time()

    async def create(i):
        status, _, body, _ = await soak.timed(pool, "POST", "/api/transfers", body={
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
        await asyncio.gather(*(soak.poll(pool, Visitor(c["id"], c["secret"], None), record=False)
                               for c in waiting[:200]))
        await asyncio.sleep(0.5)
    visitors = [Visitor(c["id"], c["secret"], by_id[c["id"]]) for c in created if c["id"] in by_id]
    print("handed over %d in %.0f s" % (len(visitors), time.time() - started), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: [fake.agent_says(v.cid, "hello from the agent") for v in visitors])
    for v in visitors:
        fake_sent = soak.agent_sent[v.cid]
        fake_sent.append("hello from the agent")
    for v in visitors:
        await soak.poll(pool, v, record=False)
    soak.errors.clear()
    await asyncio.sleep(2)
    first = processes(server)
    print("start: %d processes, RSS %d KiB, open fds %d" % first, flush=True)
    until_mono = time.monotonic() + args.minutes * 60
    until_wall = time.time() + args.minutes * 60
    agent_thread = threading.Thread(target=soak.agents, args=(fake, visitors, until_wall), daemon=True)
    agent_thread.start()
    load_started = time.monotonic()
    soak.requests = 0
    await asyncio.gather(*(soak.visitor_loop(pool, v, until_mono) for v in visitors))
    elapsed = time.monotonic() - load_started
    agent_thread.join()
    last = processes(server)
    print("end:   %d processes, RSS %d KiB, open fds %d" % last, flush=True)

    # Drain: polls drive the outbox until Zendesk holds every accepted message.
    def delivered(v):
        with fake.lock:
            return [m["content"]["text"] for m in fake.conversations[v.cid]["messages"]
                    if m["author"]["type"] == "user"][1:]
    drain_until = time.time() + 120
    while time.time() < drain_until:
        behind = [v for v in visitors if len(delivered(v)) < len(v.sent)
                  or len(v.agent_seen) < len(soak.agent_sent[v.cid])]
        if not behind:
            break
        await asyncio.gather(*(soak.poll(pool, v, record=False) for v in behind[:300]))
        await asyncio.sleep(1)
    sent = sum(len(v.sent) for v in visitors)
    dup = lost = disorder = agent_dup = agent_lost = 0
    for v in visitors:
        got = delivered(v)
        want = sorted(v.sent, key=v.accepted_seq.get)
        counts = collections.Counter(got)
        dup += sum(n - 1 for n in counts.values() if n > 1)
        lost += sum(1 for t in want if t not in counts)
        disorder += int([t for t in got if t in counts and counts[t] == 1] != [t for t in want if t in counts])
        seen = collections.Counter(v.agent_seen)
        agent_dup += sum(n - 1 for n in seen.values() if n > 1)
        agent_lost += sum(1 for t in soak.agent_sent[v.cid] if t not in seen)
    agent_total = sum(len(x) for x in soak.agent_sent.values())
    lat = soak.latencies
    print("visitors %d for %.1f min: %d requests (%.0f/s); polls %d, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (len(visitors), elapsed / 60, soak.requests, soak.requests / elapsed, len(lat),
             percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000, max(lat or [0]) * 1000))
    print("visitor messages: accepted %d, duplicated %d, lost %d, transfers out of order %d"
          % (sent, dup, lost, disorder))
    print("agent messages: sent %d, seen twice %d, never seen %d" % (agent_total, agent_dup, agent_lost))
    print("errors: %s" % (dict(soak.errors) or "none"))
    growth_rss = last[1] / first[1] if first[1] else 0
    reasons = []
    if len(visitors) < args.transfers:
        reasons.append("%d of %d transfers handed over" % (len(visitors), args.transfers))
    if dup or lost or disorder or agent_dup or agent_lost:
        reasons.append("messages lost, repeated or out of order")
    if last[2] > first[2] + 2 * first[0]:
        reasons.append("open fds grew from %d to %d" % (first[2], last[2]))
    if growth_rss > 1.25:
        reasons.append("RSS grew %.0f%%" % ((growth_rss - 1) * 100))
    if any(not k.startswith(("429", "503")) for k in soak.errors):
        reasons.append("undocumented errors")
    return "soak: PASS" if not reasons else "soak: FAIL (%s)" % "; ".join(reasons)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--transfers", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--message-every", type=float, default=30.0)
    ap.add_argument("--agent-rate", type=float, default=20.0)
    ap.add_argument("--connections", type=int, default=256)
    args = ap.parse_args()
    os.environ["DESKBRIDGE_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
    sys.path.insert(0, os.path.join(SRCDIR, "tests"))
    import harness
    from fake_zendesk import FakeZendesk

    fake = FakeZendesk(agents_online=5).start()
    server = harness.Server(procs=max(2, os.cpu_count() or 1)).start()
    try:
        harness.connect_zendesk(server, fake, "soak-webhook-secret")
        server.state.admin("config", "set", "transfers.join_timeout_s", "3600")
        verdict = asyncio.run(main_async(args, server, fake))
    finally:
        fake.stop()
        server.stop()
        server.state.remove()
    print(verdict)
    return 0 if verdict == "soak: PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
