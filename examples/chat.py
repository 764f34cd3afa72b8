"""Ask a served app a question with the official ``openai`` client, streaming the answer.

    python examples/chat.py "How do I roll back a prompt?" [--base-url http://127.0.0.1:8761/v1] [--model support-bot]

Works against ``ripple serve``, a ``ripple deploy --target local`` deployment, or the platform
server (``ripple server start``): each speaks OpenAI's ``/v1/chat/completions``; the model name
selects the app. On loopback without auth any api_key works; otherwise pass a Ripple token.
"""

from __future__ import annotations

import argparse
import os

import openai


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question")
    parser.add_argument("--base-url", default="http://127.0.0.1:8761/v1")
    parser.add_argument("--model", default="support-bot")
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key=os.environ.get("RIPPLE_TOKEN", "unused"))
    print(f"models served: {[m.id for m in client.models.list()]}")
    print(f"Q: {args.question}\nA: ", end="", flush=True)
    stream = client.chat.completions.create(
        model=args.model,
        messages=[{"role": "user", "content": args.question}],
        stream=True,
        stream_options={"include_usage": True},
    )
    trace_id = ""
    for chunk in stream:
        trace_id = chunk.id.removeprefix("chatcmpl-")
        if chunk.choices:
            print(chunk.choices[0].delta.content or "", end="", flush=True)
            if chunk.choices[0].finish_reason:
                print(f"\n(finish: {chunk.choices[0].finish_reason})")
        if chunk.usage:
            print(f"tokens: {chunk.usage.prompt_tokens} prompt + {chunk.usage.completion_tokens} completion")
    print(f"trace: {trace_id}  (ripple trace show {trace_id})")


if __name__ == "__main__":
    main()
