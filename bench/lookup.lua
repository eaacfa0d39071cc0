-- bench/lookup.lua — wrk script of bench/backends.sh: GET /api/v1/files/{id}
-- for ids picked at random from the file named by env LOOKUP_IDS (one id a
-- line), so the metadata store answers for many rows, not one hot row.
-- wrk itself reports any answer but 2xx/3xx ("Non-2xx"), which the script
-- treats as a failed run: a lookup that fails is not a fast lookup.
local ids = {}

function init(args)
	for line in io.lines(os.getenv("LOOKUP_IDS")) do
		ids[#ids + 1] = line
	end
	if #ids == 0 then
		error("no ids in " .. os.getenv("LOOKUP_IDS"))
	end
	math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
	local id = ids[math.random(#ids)]
	return wrk.format("GET", "/api/v1/files/" .. id, { Accept = "application/json" })
end
