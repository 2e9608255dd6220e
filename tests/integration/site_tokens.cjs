// tests/integration/site_tokens.cjs — plays a customer's site server the way IBM's
// Web Chat documentation tells it to: jsonwebtoken signs (RS256), node-rsa encrypts
// the user payload to deskbridge's public key with its defaults. Reads one JSON request
// on stdin, writes one JSON answer on stdout.
"use strict";
const crypto = require("crypto");
const jwt = require("jsonwebtoken");
const NodeRSA = require("node-rsa");

const b64url = (buf) => Buffer.from(buf).toString("base64url");

const actions = {
  keypair() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      public: publicKey.export({ type: "spki", format: "pem" }),
      private: privateKey.export({ type: "pkcs8", format: "pem" }),
    };
  },
  encrypt(req) {
    return { user_payload: new NodeRSA(req.publicKey).encrypt(JSON.stringify(req.payload), "base64") };
  },
  sign(req) {
    const claims = Object.assign({}, req.claims);
    if (req.payload) claims.user_payload = actions.encrypt(req).user_payload;
    return { token: jwt.sign(claims, req.privateKey, Object.assign({ algorithm: "RS256" }, req.options || {})) };
  },
  // Tokens no honest site makes, built by hand.
  forge(req) {
    const head = b64url(JSON.stringify(req.header));
    const body = b64url(JSON.stringify(req.claims));
    let sig = "";
    if (req.hmacKey) sig = b64url(crypto.createHmac("sha256", req.hmacKey).update(head + "." + body).digest());
    return { token: head + "." + body + "." + sig };
  },
  verify(req) {
    try {
      return { claims: jwt.verify(req.token, req.secret, { algorithms: ["HS256"] }),
               header: jwt.decode(req.token, { complete: true }).header };
    } catch (e) {
      return { error: e.message };
    }
  },
};

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  process.stdout.write(JSON.stringify(actions[req.action](req)));
});
