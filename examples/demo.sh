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
# data, models and knowledge: the repo's own docs (Apache-2.0) -> dataset -> index -> RAG answer
step ripple dataset add ripple-docs ../docs --license Apache-2.0 -m "the repo's docs"
step ripple dataset show ripple-docs
step ripple embedder add minilm
step ripple index create ripple-docs --dataset dataset/ripple-docs@latest --embedder embedder/minilm --chunk-size 800 --overlap 100
step ripple search index/ripple-docs "How do I roll back a prompt?" -k 3
step ripple model add local-smollm --provider local
step ripple model label local-smollm production 1
step ripple prompt create rag --file rag.yaml
step ripple prompt label rag production 1
step python ask.py "How does a new dataset version rebuild an index?"
step ripple lineage index/ripple-docs:1
step ripple audit log --since 1h
step ripple audit verify
printf '\nThe home is %s; start the server on it with: ripple server start --port 8750\n' "$RIPPLE_HOME"
