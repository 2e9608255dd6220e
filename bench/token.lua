-- bench/token.lua — wrk script for bench/token_bench.py: POSTs the body from TOKEN_BODY.
wrk.method = "POST"
wrk.body = os.getenv("TOKEN_BODY")
wrk.headers["Content-Type"] = "application/json"
