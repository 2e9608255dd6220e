"""The fake Zendesk checked against Zendesk's official client (npm:
sunshine-conversations-client): every endpoint deskbridge's driver calls, called by the
official client, answers in shapes the client parses."""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import harness  # noqa: E402,F401  (sets up the environment the tests share)
from fake_zendesk import FakeZendesk  # noqa: E402


class OfficialClient(unittest.TestCase):
    def test_official_client_talks_to_the_fake(self):
        fake = FakeZendesk().start()
        self.addCleanup(fake.stop)
        cfg = {"base": fake.url, "appId": fake.app_id, "keyId": fake.key_id, "keySecret": fake.key_secret}
        p = subprocess.run(["node", os.path.join(HERE, "official_client.cjs")], input=json.dumps(cfg),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertNotIn("error", out, out)
        self.assertEqual(out["appId"], fake.app_id)
        self.assertEqual(out["userExternalId"], "official-client-visitor")
        self.assertEqual(out["fetchedUserId"], out["userId"])
        self.assertEqual(out["conflict"], 409)
        self.assertEqual(out["messageText"], "Hello from the official client")
        self.assertEqual((out["listedMark"], out["listedHasMore"]), ("tr_x/1/0", False))
        self.assertEqual((out["latestCount"], out["latestHasMore"]), (100, True))
        self.assertEqual((out["earlierCount"], out["earlierHasMore"], out["earlierFirstMark"]),
                         (21, False, "tr_x/1/0"))
        self.assertTrue(any("page%5Bbefore%5D=" in r[2] or "page[before]=" in r[2]
                            for r in fake.calls("GET", "/messages")), "the client sent no page[before]")
        self.assertTrue(out["passed"] and out["activity"])
        self.assertEqual(out["wrongSecret"], 401)
        conv = fake.conversations[out["conversationId"]]
        self.assertEqual(conv["control"], "zd:agentWorkspace")
        self.assertEqual(conv["activity"], ["typing:start"])


if __name__ == "__main__":
    sys.exit(harness.main())
