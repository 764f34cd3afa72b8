"""Ask a question of the demo's index: retrieve, then answer with the local model, with sources.

    python examples/ask.py "How does a new dataset version rebuild an index?" [--index ripple-docs] [-k 2]

Runs on the embedded home ($RIPPLE_HOME) or on a server (RIPPLE_SERVER_URL), like the CLI.
"""

from __future__ import annotations

import argparse

from rippleops import Client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question")
    parser.add_argument("--index", default="ripple-docs")
    parser.add_argument("--prompt", default="rag@production")
    parser.add_argument("-k", type=int, default=2, help="passages to retrieve (a 135M model does best with few)")
    parser.add_argument("--chars", type=int, default=600, help="characters of each passage given to the model")
    args = parser.parse_args()
    with Client() as rp:
        found = rp.indexes.get(args.index).search(args.question, k=args.k)
        hits = found.hits
        answer = rp.prompts.get(args.prompt).run(question=args.question, chunks=[h.text[: args.chars] for h in hits])
        print(f"Q: {args.question}\nA: {answer.text.strip()}\n")
        print("Sources:")
        for h in hits:
            where = " > ".join(h.heading) or "(top)"
            print(f"  [{h.rank}] {h.doc_id} chars {h.start}-{h.end}  {where}  (score {h.score:.3f})")
        u = answer.usage
        print(
            f"\n{answer.prompt} on {answer.model}: {u.prompt_tokens} prompt + {u.completion_tokens} "
            f"completion tokens, {answer.latency_s:.2f} s; {found.mode} retrieval from {found.index}"
        )


if __name__ == "__main__":
    main()
