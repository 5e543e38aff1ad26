#!/usr/bin/env python3
"""Streaming chat with a model served by `./NAME serve`, through the official
OpenAI Python client (pip install openai). Nothing here is mcc-specific: any
program that speaks the OpenAI API can do the same.

    ./smollm serve &                          # http://127.0.0.1:8080
    python3 chat_client.py "What is machine learning?"

Options: --url (default http://127.0.0.1:8080/v1), --api-key (when the server
was started with one), --max-tokens.
"""
import argparse

from openai import OpenAI


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("question")
    ap.add_argument("--url", default="http://127.0.0.1:8080/v1")
    ap.add_argument("--api-key", default="none")
    ap.add_argument("--max-tokens", type=int, default=256)
    a = ap.parse_args()

    client = OpenAI(base_url=a.url, api_key=a.api_key)
    model = client.models.list().data[0].id        # the one model the executable carries
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": a.question}],
        max_tokens=a.max_tokens,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


if __name__ == "__main__":
    main()
