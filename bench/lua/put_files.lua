-- PUT TOTAL new files of SIZE bytes into FOLDER, one connection per thread.
-- Arguments: MARKER_DIR TOTAL THREADS FOLDER SIZE
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

function init(args)
   bench.init_counted(args, 1)
   folder, body, headers = args[4], string.rep("x", tonumber(args[5])), bench.headers()
end

function request()
   bench.sent("PUT")
   local path = string.format("%s/t%d-%d.bin", folder, id, responses + 1)
   return wrk.format("PUT", path, headers, body)
end

function response(status)
   bench.received(status, status == 201 or status == 204)
end
