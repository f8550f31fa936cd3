-- TOTAL cycles of MKCOL a folder, PUT a file of SIZE bytes into it, MOVE the folder, DELETE it.
-- Arguments: MARKER_DIR TOTAL THREADS FOLDER SIZE ORIGIN (scheme://host:port, for Destination)
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

function init(args)
   bench.init_counted(args, 4)
   folder, body, origin = args[4], string.rep("x", tonumber(args[5])), args[6]
   headers = bench.headers()
end

function request()
   local step, cycle = responses % 4, math.floor(responses / 4) + 1
   local made = string.format("%s/c%d-%d/", folder, id, cycle)
   local moved = string.format("%s/m%d-%d/", folder, id, cycle)
   if step == 0 then
      bench.sent("MKCOL")
      return wrk.format("MKCOL", made, headers)
   elseif step == 1 then
      bench.sent("PUT")
      return wrk.format("PUT", made .. "file.bin", headers, body)
   elseif step == 2 then
      bench.sent("MOVE")
      return wrk.format("MOVE", made, bench.headers({ Destination = origin .. moved }))
   end
   bench.sent("DELETE")
   return wrk.format("DELETE", moved, headers)
end

function response(status)
   bench.received(status, status >= 200 and status < 300)
end
