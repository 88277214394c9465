#!/bin/sh
# The HTTP benchmark. 10,000 idle connections need as many descriptors in the
# server's process and in this one: raise the limit where the system lets us
# (up to the hard limit otherwise); the bench checks what it got.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec node --expose-gc dist-bench/http/bench/http/http.bench.js
