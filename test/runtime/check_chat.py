#!/usr/bin/env python3
"""Renders conversations with mcc's chat-template interpreter and with jinja2
set up as Hugging Face's apply_chat_template sets it up (trim_blocks,
lstrip_blocks, loop controls, tojson, raise_exception), and requires the same
text. Templates: the model's own (when MODEL has one) and the test set below,
written in the styles of ChatML/Qwen, Llama-3, Mistral and SmolLM templates.

usage: check_chat.py MCC_PROBE MODEL
"""
import json
import os
import subprocess
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = {
    "chatml-system-default": (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    "llama3-style": (
        "{{- bos_token }}\n{%- if messages[0]['role'] == 'system' %}\n"
        "    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n"
        "{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n"
        "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n"
        "{%- for message in messages %}\n"
        "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n"
        "{%- endfor %}\n{%- if add_generation_prompt %}\n"
        "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n"),
    "mistral-style": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"),
    "namespace-and-filters": (
        "{%- set ns = namespace(last_user=-1, n=0) %}\n"
        "{%- for m in messages %}\n  {%- if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}\n"
        "  {%- set ns.n = ns.n + 1 %}\n{%- endfor %}\n"
        "{%- for m in messages[::-1] if m.role != 'system' %}\n"
        "    <{{ m.role | upper }} i={{ loop.index }}/{{ loop.length }}{{ ' last' if loop.last else '' }}>\n"
        "    {{ m.content.split('\\n')[0].strip() }}|{{ m.content | length }}|{{ m['content'].startswith('Hi') }}\n"
        "  {%- if loop.index >= 3 %}{% break %}{% endif %}\n"
        "{%- endfor %}\n"
        "last user: {{ ns.last_user }} of {{ ns.n }}; {{ undefined_var | default('none') }} {{ 7 // 2 }} {{ -3 % 5 }}\n"
        "{# a comment #}\n  {% if add_generation_prompt -%}\n  GEN {{ {'a': 1, 'b': [true, none]} | tojson }}\n  {%- endif %}\n"),
}

CONVERSATIONS = [
    [{"role": "user", "content": "Hi there"}],
    [{"role": "system", "content": "  Be brief.  "}, {"role": "user", "content": "What is 2+2?\nThanks"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
     {"role": "user", "content": "Tell me a joke about CPUs. 😀"}],
    [{"role": "user", "content": "日本語で答えて"}, {"role": "assistant", "content": "はい。"}],
    [{"role": "assistant", "content": "I speak first"}],
    [{"role": "user", "content": "quotes \" and ' and \\ backslash\ttab"}],
]


def hf_env():
    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def own_template(model):
    import gguf
    if os.path.isdir(model):
        tc = os.path.join(model, "tokenizer_config.json")
        return json.load(open(tc)).get("chat_template") if os.path.exists(tc) else None
    f = gguf.GGUFReader(model).fields.get("tokenizer.chat_template")
    return bytes(f.parts[f.data[0]]).decode() if f else None


def main():
    probe, model = sys.argv[1], sys.argv[2]
    templates = dict(TEMPLATES)
    own = own_template(model)
    if own:
        templates["model's own"] = own
    env = hf_env()
    checked = 0
    for name, tmpl in templates.items():
        # The probe renders the model's template; swap in each test template.
        for conv in CONVERSATIONS:
            for gen in (True, False):
                try:
                    want = env.from_string(tmpl).render(messages=conv, add_generation_prompt=gen,
                                                        bos_token="<s>", eos_token="</s>")
                except jinja2.exceptions.TemplateError as e:
                    want = {"error": str(e)}
                req = json.dumps({"messages": conv, "add_generation_prompt": gen, "template": tmpl})
                p = subprocess.run([probe, "chat", model], input=req + "\n", capture_output=True, text=True)
                if p.returncode:
                    sys.exit(f"FAIL: mcc-probe: {p.stderr.strip()}")
                got = json.loads(p.stdout)
                if isinstance(want, dict):
                    ok = isinstance(got, dict) and want["error"] in got["error"]
                else:
                    ok = got == want
                if not ok:
                    sys.exit(f"FAIL: template '{name}', conversation {conv}, add_generation_prompt={gen}:\n"
                             f"  mcc:    {got!r}\n  jinja2: {want!r}")
                checked += 1
    print(f"OK {checked} renderings of {len(templates)} templates identical to jinja2")


if __name__ == "__main__":
    main()
