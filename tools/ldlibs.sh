#!/bin/sh
# ldlibs.sh — print the link flags of libweightbridge's dependencies, for the scripts that link a
# program against the archives (bench/run.sh, tests/embed/run.sh): pkg-config's, as the Makefile
# takes them, or the plain list when pkg-config or one of the .pc files is missing.
libs=$(pkg-config --libs libpcre2-8 libcjson zlib 2>/dev/null) || libs=
# shellcheck disable=SC2086
set -- $libs
echo "${*:--lpcre2-8 -lcjson -lz} -lm"
