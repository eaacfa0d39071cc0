-- bench/put.lua — wrk script: PUT the file named by env BENCH_PUT_FILE as the
-- request body, to the URL given on wrk's command line.
local f = assert(io.open(os.getenv("BENCH_PUT_FILE"), "rb"))
wrk.method = "PUT"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
