-- wrk script of bench/inquiry_bench.sh: every request is the same availability question,
-- POSTed as JSON on keep-alive connections (to pharmdesk's /api/v1/inquiries and to the
-- baseline echo server alike).
wrk.method = "POST"
wrk.body = '{"message":"Haben Sie Ibuprofen 400 vorrätig?"}'
wrk.headers["Content-Type"] = "application/json"
