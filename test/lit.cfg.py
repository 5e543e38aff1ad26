# lit configuration for mcc. Run through scripts/test.sh, or directly:
#   python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv test \
#     [--param mcc_bin=build-san/bin] [--param python=.cache/venv/bin/python]
import hashlib
import os
import shutil
import subprocess
import sys

import lit.formats

config.name = "mcc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".test", ".mlir"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.excludes = ["fixtures", "unit", "fuzz", "tools", "Inputs", "kernel_check.cpp", "check_repack.py", "__pycache__"]

repo = os.path.dirname(config.test_source_root)
params = lit_config.params
mcc_bin = os.path.abspath(params.get("mcc_bin", os.path.join(repo, "build", "bin")))
venv_python = os.path.join(repo, ".cache", "venv", "bin", "python")
python = params.get("python", venv_python if os.path.exists(venv_python) else sys.executable)
work = os.path.abspath(params.get("work", os.path.join(repo, "build", "test-data")))
config.test_exec_root = os.path.join(work, "lit")

# Fixtures are generated once per change of their generators.
gens = [os.path.join(config.test_source_root, "fixtures", f)
        for f in ("make_fixtures.py", "make_bad_inputs.py", "hf_quant.py")]
stamp = hashlib.sha256(b"".join(open(g, "rb").read() for g in gens)).hexdigest()
stamp_file = os.path.join(work, "fixtures.stamp")
fixtures, bad = os.path.join(work, "fixtures"), os.path.join(work, "bad")
if not os.path.exists(stamp_file) or open(stamp_file).read() != stamp:
    os.makedirs(work, exist_ok=True)
    subprocess.check_call([python, gens[0], fixtures])
    subprocess.check_call([python, gens[1], fixtures, bad])
    open(stamp_file, "w").write(stamp)

llvm_bin = "/usr/lib/llvm-19/bin"
config.environment["PATH"] = os.pathsep.join([mcc_bin, llvm_bin, config.environment.get("PATH", os.environ["PATH"])])
for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "HOME"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

default_model = os.path.join(repo, ".cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
shared_models = os.path.abspath(os.path.join(repo, "..", "shared", "models"))
if os.path.exists(default_model):
    config.available_features.add("default-model")
if os.path.isdir(shared_models) and os.listdir(shared_models):
    config.available_features.add("shared-models")

if shutil.which("qemu-aarch64") and all(os.path.exists(os.path.join(mcc_bin, f))
                                       for f in ("mcc-kernel-check-aarch64", "mcc-runtime-aarch64")):
    config.available_features.add("qemu-aarch64")

# x86-64 CPUs smaller than this one, emulated: AVX2 without AVX-512.
import platform
if platform.machine() == "x86_64" and shutil.which("qemu-x86_64"):
    config.available_features.add("qemu-x86_64")

if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("chroot"):
    config.available_features.add("root")

if subprocess.run([python, "-c", "import llama_cpp"], capture_output=True).returncode == 0:
    config.available_features.add("llama-cpp")

# The test command (scripts/test.sh) passes --param strict=1: there, a main
# check that cannot run is a failure, not a skip. Only the checkpoints in
# ../shared/models and the chroot test (root only) stay optional.
if params.get("strict") == "1":
    needed = {"default-model": "the default model (scripts/setup.sh fetches it)",
              "llama-cpp": "llama-cpp-python (scripts/setup.sh --test builds it)",
              "qemu-aarch64": "qemu-aarch64 and the AArch64 builds (scripts/setup.sh installs them)"}
    if platform.machine() == "x86_64":
        needed["qemu-x86_64"] = "qemu-x86_64 (qemu-user; scripts/setup.sh installs it)"
    missing = [why for f, why in needed.items() if f not in config.available_features]
    if missing:
        lit_config.fatal("strict run, but missing: " + "; ".join(missing))

config.substitutions += [
    ("%check-greedy", f"{python} {os.path.join(config.test_source_root, 'runtime', 'check_greedy.py')}"),
    ("%check-logits", f"{python} {os.path.join(config.test_source_root, 'runtime', 'check_logits.py')}"),
    ("%mcc-dequant", os.path.join(mcc_bin, "mcc-dequant")),
    ("%mcc-probe", os.path.join(mcc_bin, "mcc-probe")),
    ("%mcc-bin", mcc_bin),
    ("%check-tokenizer", f"{python} {os.path.join(config.test_source_root, 'runtime', 'check_tokenizer.py')}"),
    ("%check-chat", f"{python} {os.path.join(config.test_source_root, 'runtime', 'check_chat.py')}"),
    ("%mcc", os.path.join(mcc_bin, "mcc")),
    ("mcc-opt", os.path.join(mcc_bin, "mcc-opt")),
    ("%python", python),
    ("%corrupt", f"{python} {os.path.join(config.test_source_root, 'e2e', 'corrupt.py')}"),
    ("%expect-error", f"{python} {os.path.join(config.test_source_root, 'tools', 'expect_error.py')}"),
    ("%check-dequant", f"{python} {os.path.join(config.test_source_root, 'import', 'check_dequant.py')}"),
    ("%fixtures", fixtures),
    ("%bad", bad),
    ("%default-model", default_model),
    ("%shared-models", shared_models),
]
