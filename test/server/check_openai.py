#!/usr/bin/env python3
"""The official `openai` client against `EXE serve`: models, chat (whole and
streamed), completions (whole and streamed), usage counts, stop strings, and
greedy output over HTTP equal to `EXE -p` for the same prompt (also with
--kv-cache int8). Prints one
line per check and OK; exits non-zero on the first failure.

usage: check_openai.py EXE
"""
import subprocess
import sys

from openai import OpenAI, BadRequestError, NotFoundError

from serve_util import Served

PROMPT = "What is the capital of France?"


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok {what}")


def main():
    exe = sys.argv[1]
    # The command line's greedy answer, through the same chat template.
    cli = subprocess.run([exe, "-p", PROMPT, "-n", "32", "--temp", "0", "-t", "2"], capture_output=True, text=True,
                         check=True).stdout.rstrip("\n")
    s = Served(exe, "-t", "2", "--parallel", "2")
    try:
        client = OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0)
        models = client.models.list().data
        check(len(models) == 1 and models[0].object == "model", f"models: {models[0].id}")
        model = models[0].id

        msgs = [{"role": "user", "content": PROMPT}]
        r = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=32)
        text = r.choices[0].message.content
        check(text == cli, f"chat, greedy, equals -p: {text!r}")
        check(r.usage.completion_tokens == 32 and r.choices[0].finish_reason == "length"
              and r.usage.total_tokens == r.usage.prompt_tokens + 32, f"chat usage {r.usage.prompt_tokens}+32")

        chunks = list(client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=32,
                                                     stream=True, stream_options={"include_usage": True}))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        check(streamed == text, f"chat streamed in {len(chunks)} chunks, same text")
        check(chunks[0].choices[0].delta.role == "assistant", "stream starts with the assistant role")
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        check(finish == ["length"], "stream ends with finish_reason length")
        check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 32, "stream usage chunk")

        # A stop string ends the text before it, with finish_reason stop.
        word = text.split()[1] if len(text.split()) > 1 else text[:3]
        r = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=32, stop=[word])
        check(r.choices[0].finish_reason == "stop" and word not in r.choices[0].message.content
              and text.startswith(r.choices[0].message.content), f"stop {word!r}: {r.choices[0].message.content!r}")

        # llama.cpp's ignore_eos: the end-of-text token does not end the answer
        # (this one ends by itself after ~12 tokens, the end-of-text token
        # ahead of the next by 0.54 in the fp64 reference's logits: a margin
        # no rounding of the int8 path moves), max_tokens does.
        short = [{"role": "user", "content": "What is 2+2?"}]
        r = client.chat.completions.create(model=model, messages=short, temperature=0, max_tokens=64)
        check(r.choices[0].finish_reason == "stop" and r.usage.completion_tokens < 64,
              f"ends by itself after {r.usage.completion_tokens} tokens")
        n = client.chat.completions.create(model=model, messages=short, temperature=0, max_tokens=64,
                                           extra_body={"ignore_eos": True})
        check(n.choices[0].finish_reason == "length" and n.usage.completion_tokens == 64
              and n.choices[0].message.content.startswith(r.choices[0].message.content),
              f"ignore_eos: {n.usage.completion_tokens} tokens")

        c = client.completions.create(model=model, prompt="The capital of France is", temperature=0, max_tokens=8)
        check(c.choices[0].text != "" and c.usage.completion_tokens <= 8, f"completion: {c.choices[0].text!r}")
        sc = "".join(x.choices[0].text for x in client.completions.create(
            model=model, prompt="The capital of France is", temperature=0, max_tokens=8, stream=True) if x.choices)
        check(sc == c.choices[0].text, "completion streamed, same text")

        # Sampling with a seed is repeatable.
        a = client.chat.completions.create(model=model, messages=msgs, temperature=0.8, seed=7, max_tokens=16)
        b = client.chat.completions.create(model=model, messages=msgs, temperature=0.8, seed=7, max_tokens=16)
        check(a.choices[0].message.content == b.choices[0].message.content, "seeded sampling repeats")

        # A multi-turn conversation: the second turn reuses the first's cache.
        msgs2 = msgs + [{"role": "assistant", "content": text}, {"role": "user", "content": "And of Germany?"}]
        r2 = client.chat.completions.create(model=model, messages=msgs2, temperature=0, max_tokens=16)
        check(r2.choices[0].message.content != "", f"second turn: {r2.choices[0].message.content!r}")

        try:
            client.chat.completions.create(model=model, messages=msgs, temperature=5)
            check(False, "temperature 5 refused")
        except BadRequestError as e:
            check(e.body["param"] == "temperature", f"400 names the field: {e.body['message']}")
        try:
            client.chat.completions.create(model=model, messages=msgs, n=3)
            check(False, "n=3 refused")
        except BadRequestError as e:
            check(e.body["param"] == "n", f"400 for n=3: {e.body['message']}")
        try:
            client.post("/nowhere", cast_to=object, body={})
            check(False, "unknown route refused")
        except NotFoundError:
            check(True, "404 for an unknown route")
    finally:
        code, err = s.stop()
    check(code == 0, f"SIGTERM: exit {code}")

    # With the KV cache in int8, over HTTP as on the command line.
    cli8 = subprocess.run([exe, "-p", PROMPT, "-n", "32", "--temp", "0", "-t", "2", "--kv-cache", "int8"],
                          capture_output=True, text=True, check=True).stdout.rstrip("\n")
    s = Served(exe, "-t", "2", "--parallel", "2", "--kv-cache", "int8")
    try:
        client = OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0)
        r = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=32)
        check(r.choices[0].message.content == cli8, f"--kv-cache int8: chat, greedy, equals -p: {cli8!r}")
    finally:
        code, err = s.stop()
    check(code == 0, f"--kv-cache int8 SIGTERM: exit {code}")
    print("OK")


if __name__ == "__main__":
    main()
