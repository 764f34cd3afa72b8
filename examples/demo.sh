#!/usr/bin/env bash
# The README's quick start, run end to end on the embedded default (SQLite + a blob folder
# in $RIPPLE_HOME). `make demo` runs it with RIPPLE_HOME=.demo, fresh each time.
set -euo pipefail
cd "$(dirname "$0")"
: "${RIPPLE_HOME:?set RIPPLE_HOME}"
rm -rf "$RIPPLE_HOME"
step() { printf '\n\033[1;36m$ %s\033[0m\n' "$*"; "$@"; }

step ripple init
step ripple prompt create system --file system.yaml
step ripple prompt label system production 1
step ripple prompt create answer --file answer.yaml
step ripple prompt create answer --file answer-v2.yaml
step ripple prompt create answer --file answer-v2.yaml          # same content: still :2
step ripple prompt label answer production 1
step ripple prompt show answer@production --json
step ripple prompt diff answer:1 answer:2
step ripple prompt render answer@production --var question="How do I roll back a prompt?" --var tone=precise
step ripple prompt label answer production 2                     # promote ...
step ripple prompt label answer production 1                     # ... and roll back
step ripple prompt history answer
step ripple prompt list
step ripple asset list
step ripple asset show prompt/answer
step ripple lineage prompt/system:1
step ripple audit log --since 1h
step ripple audit verify
printf '\nThe home is %s; start the server on it with: ripple server start --port 8750\n' "$RIPPLE_HOME"
