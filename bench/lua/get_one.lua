-- GET the URL given to wrk for the whole duration; only adds the BENCH result line.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
