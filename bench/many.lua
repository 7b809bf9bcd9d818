-- wrk's requests spread uniformly over N Funcs (bench/many.sh): each request
-- is GET /f<i>/greet?name=Ada, i drawn uniformly from 1..N, N the script's
-- first argument (`wrk -s bench/many.lua URL -- N`).
local funcs = 1

function init(args)
  funcs = tonumber(args[1]) or 1
  -- Each of wrk's threads has its own Lua state: seed each differently.
  local address = tostring({}):match("0x(%x+)") or "0"
  math.randomseed(os.time() + (tonumber(address, 16) or 0) % 1000003)
end

function request()
  return wrk.format("GET", "/f" .. math.random(funcs) .. "/greet?name=Ada")
end
