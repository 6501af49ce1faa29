#!/usr/bin/env bash
# One command for a lent GPU machine (issue #21): the GPU tests, the benchmark's CUDA column, then
# time-boxed training of the damage detector, the inpainter and the denoiser (all three at once on the
# one card, batches made by worker processes) from a patch cache carried with the checkout, their
# export, and a summary.  Every part has its own time limit and the next part runs whatever happened;
# $OUT always gets summary.txt.  The whole run ends within GPU_SESSION_SECONDS (default 520 s).
#
# THE DEVICE CALL (a session that was lent a GPU; README "GPU session"):
#   1. here, once:  nice -n 10 restorer patches .cache/patches.npy --count 500 --size 160
#                   (36.6 MiB; with the ~17 MiB checkout ~54 MiB of the 64 MiB that travel)
#      optional:    a better starting point for a model, e.g. the detector's current run:
#                   mkdir -p .cache/init && cp checkpoints/damage-unet-s/best.pt .cache/init/scratch.pt
#                   (.cache/init/{scratch,inpaint,denoise}.{pt,safetensors}; then --count 400 above)
#   2. run:         carry [".cache"], timeout_s 580, command "bash tools/gpu_session.sh"
#                   (the script ends within GPU_SESSION_SECONDS, 520 by default; when `status` shows less
#                   than ~840 s of device time before the first call, start it as
#                   "GPU_SESSION_SECONDS=<budget_left_s - 320> bash tools/gpu_session.sh": the machine's
#                   start takes minutes of the same budget, and a command cut off returns only what it
#                   had written: summary.txt so far and bench.tar.gz, no model)
#   3. results:     under files_at: summary.txt, logs.tar.gz, bench.tar.gz and one
#                   <task>.tar.gz per trained model (exported .safetensors + card, log.jsonl,
#                   config.json, train.log, summary.json, val.png); 6 files, each well under 16 MiB.
#
# The machine's python3 has torch, torchvision, numpy, pillow, opencv, safetensors and tqdm, but no
# PySide6, platformdirs or spandrel; nothing here needs them (tests/test_gpu_session.py checks that).
#
# Rehearsal on a CPU (seconds per part):
#   GPU_SESSION_BUDGET=tiny GPU_SESSION_CACHE=/tmp/p.npy OUT=/tmp/gs-out bash tools/gpu_session.sh
#   (a tiny cache: restorer patches /tmp/p.npy --count 40 --size 72)
#
# Settings (environment):
#   OUT                   results folder (the device machine sets it; default ./gpu-session-out)
#   GPU_SESSION_BUDGET    full (default) or tiny
#   GPU_SESSION_SECONDS   wall-clock budget of the whole script (default 520 full, 240 tiny)
#   GPU_SESSION_CACHE     the patch cache (default .cache/patches.npy)
#   GPU_SESSION_WORK      scratch folder (default: a new one under /tmp)
#   GPU_SESSION_PYTHON    the interpreter (default python3)
#   GPU_SESSION_TASKS     which models to train (default "scratch inpaint denoise")
#   GPU_SESSION_<TASK>_ARGS  extra `train` options for SCRATCH, INPAINT or DENOISE (they win: argparse
#                         keeps the last of a repeated option)
#   GPU_SESSION_ALLOW_CPU=1  let the full budget train without CUDA (otherwise it stops after the tests)

set -u
cd "$(dirname "$0")/.."

BUDGET=${GPU_SESSION_BUDGET:-full}
case "$BUDGET" in full | tiny) ;; *) echo "GPU_SESSION_BUDGET is full or tiny, not $BUDGET" >&2; exit 2 ;; esac
if [ "$BUDGET" = tiny ]; then TOTAL=${GPU_SESSION_SECONDS:-240}; else TOTAL=${GPU_SESSION_SECONDS:-520}; fi
PY=${GPU_SESSION_PYTHON:-python3}
OUT=${OUT:-$PWD/gpu-session-out}
CACHE=${GPU_SESSION_CACHE:-.cache/patches.npy}
WORK=${GPU_SESSION_WORK:-$(mktemp -d /tmp/gpu-session.XXXXXX)}
TASKS=${GPU_SESSION_TASKS:-scratch inpaint denoise}
START=$(date +%s)
DEADLINE=$((START + TOTAL))
LOGS=$WORK/logs
RUNS=$WORK/runs
EXPORT=$WORK/export
mkdir -p "$OUT" "$LOGS" "$RUNS" "$EXPORT" "$WORK/home"
export RESTORER_HOME=$WORK/home PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
FAILED=0

left() { echo $((DEADLINE - $(date +%s))); }
limit() { # SECONDS: a part's limit, cut to what the budget has left beyond the training's minimum
  local l=$(($(left) - 60))
  echo $((l < $1 ? (l < 5 ? 5 : l) : $1))
}
now() { echo $(($(date +%s) - START)); }
say() { echo "$*" | tee -a "$SUMMARY"; }
minutes() { awk -v s="$1" 'BEGIN { printf "%.3f", s / 60 }'; }
# part NAME STATUS SECONDS [NOTE]: one line per part in the summary
part() { say "$(printf '%-10s %-8s %5ss  %s' "$1" "$2" "$3" "${4:-}")"; [ "$2" = FAILED ] && FAILED=1; return 0; }

say "gpu_session: budget $BUDGET, ${TOTAL}s in all, started $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
if command -v nvidia-smi >/dev/null 2>&1; then
  say "nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version,temperature.gpu,utilization.gpu,memory.used --format=csv,noheader 2>&1 | head -1)"
  nvidia-smi >"$LOGS/nvidia-smi.txt" 2>&1
else
  say "nvidia-smi: not found"
fi
"$PY" tools/gpu_session.py env >"$LOGS/env.txt" 2>&1
sed 's/^/env: /' "$LOGS/env.txt" | tee -a "$SUMMARY"
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
NCPU=$(nproc 2>/dev/null || echo 2)

if [ "$BUDGET" = tiny ]; then
  T_TESTS=90; T_BENCH=90; RESERVE=45; BOX_MAX=12; BOX_MIN=5
  BENCH_ARGS=(--sizes 0.01 --repeats 1 --probe-mp 0.01)
else
  T_TESTS=75; T_BENCH=100; RESERVE=75; BOX_MAX=100000; BOX_MIN=60
  BENCH_ARGS=(--sizes 1,4,16 --repeats 3 --probe-mp 1)
fi

# ------------------------------------------------------------------ 1. GPU tests
t0=$(date +%s)
if ! "$PY" -m pytest --version >"$LOGS/pytest.txt" 2>&1; then
  part tests SKIPPED 0 "pytest is not installed here (python3 -m pytest --version failed)"
else
  targets=(tests/gpu)
  # the reliability suite's real-GPU test needs the GUI's test stack; only where it exists
  if "$PY" -c "import PySide6, pytestqt" >/dev/null 2>&1; then
    targets+=(tests/reliability/test_faults.py -p pytestqt.plugin)
  fi
  T=$(limit $T_TESTS)
  # no plugins from the environment: a stray one (pytest-qt without PySide6, say) must not stop the run
  PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 timeout -k 10 "$T" "$PY" -m pytest -m gpu "${targets[@]}" -q -rs \
    -p no:cacheprovider >>"$LOGS/pytest.txt" 2>&1
  rc=$?
  tally=$(grep -E '(passed|failed|skipped|error|deselected)' "$LOGS/pytest.txt" | tail -1)
  if [ $rc -eq 0 ]; then
    part tests ok $(($(date +%s) - t0)) "$tally"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    part tests FAILED $(($(date +%s) - t0)) "timed out after ${T}s; $tally"
  else
    part tests FAILED $(($(date +%s) - t0)) "exit $rc: $tally"
  fi
  grep -E '^(FAILED|ERROR)' "$LOGS/pytest.txt" | head -20 | sed 's/^/  /' | tee -a "$SUMMARY"
fi

# ------------------------------------------------------------------ 2. benchmark: the CUDA column
t0=$(date +%s)
DEV=cpu
[ "$CUDA" = 1 ] && DEV=cuda
MACHINE=$( ("$PY" -c "import torch; print(torch.cuda.get_device_name(0))" 2>/dev/null || echo cpu) |
  tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/^-*//; s/-*$//')
T=$(limit $T_BENCH)
NOT_GPU=0
[ "$CUDA" != 1 ] && [ "$BUDGET" = full ] && [ "${GPU_SESSION_ALLOW_CPU:-0}" != 1 ] && NOT_GPU=1
if [ $NOT_GPU = 1 ]; then
  part bench SKIPPED 0 "no CUDA here: the full budget measures and trains only on a GPU (GPU_SESSION_BUDGET=tiny rehearses)"
else
  RESTORER_BENCH_MACHINE="gpu-$MACHINE" timeout -k 10 "$T" "$PY" -m benchmarks --parts speed --devices "$DEV" \
    "${BENCH_ARGS[@]}" --results "$WORK/bench" --no-readme >"$LOGS/bench.txt" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && ls "$WORK"/bench/*.json >/dev/null 2>&1; then
    part bench ok $(($(date +%s) - t0)) "speed on $DEV: $(basename "$(ls "$WORK"/bench/*.json | head -1)")"
    sed -n '/^\*\*Speed/,$p' "$WORK"/bench/*.md | sed 's/^/  /' | tee -a "$SUMMARY"
    tar -czf "$OUT/bench.tar.gz" -C "$WORK/bench" . 2>>"$LOGS/pack.txt"
  else
    part bench FAILED $(($(date +%s) - t0)) "exit $rc (timeout after ${T}s if 124); see logs.tar.gz bench.txt"
    tail -5 "$LOGS/bench.txt" | sed 's/^/  /' | tee -a "$SUMMARY"
  fi
fi

# ------------------------------------------------------------------ 3. training, all three at once
init_for() { # TASK SHIPPED: a carried starting point if there is one, else the shipped weights
  local f
  for f in ".cache/init/$1.pt" ".cache/init/$1.safetensors"; do [ -f "$f" ] && { echo "$f"; return; }; done
  echo "$2"
}
train_args() { # TASK: the run's options (full budget: big batches and crops; tiny: seconds)
  local w
  if [ "$BUDGET" = tiny ]; then
    case $1 in
      scratch) echo "--arch scratch_unet --hparams {\"nc\":[16,32,64,128,256]} --init $(init_for scratch models/scratch-unet-s.safetensors)" ;;
      inpaint) echo "--adv-start 1000000000 --amp off --init $(init_for inpaint models/inpaint-smooth-s.safetensors)" ;;
      denoise) echo "--init $(init_for denoise models/denoise-unet-s.safetensors)" ;;
    esac
    echo "--batch 2 --patch 64 --steps 1000 --val-every 1000000 --workers 1 --threads 1"
    return
  fi
  # workers: of the cores the three main processes leave, 8/13 make the detector's batches (its synthetic
  # damage is the slowest to draw: ~20 ms a 160-px crop), 3/13 the denoiser's, 2/13 the inpainter's
  case $1 in
    scratch) w=$(((NCPU - 3) * 8 / 13)); echo "--arch scratch_unet --hparams {\"nc\":[16,32,64,128,256]}" \
      "--init $(init_for scratch models/scratch-unet-s.safetensors) --patch 160 --batch 48 --lr 4e-4 --steps 6000" \
      "--val-every 250" ;;
    inpaint) w=$(((NCPU - 3) * 2 / 13)); echo "--init $(init_for inpaint models/inpaint-smooth-s.safetensors)" \
      "--patch 128 --batch 32 --lr 5e-4 --steps 6000 --adv-start 1000000000 --amp off --val-every 250" ;;
    denoise) w=$(((NCPU - 3) * 3 / 13)); echo "--init $(init_for denoise models/denoise-unet-s.safetensors)" \
      "--patch 128 --batch 64 --lr 2e-4 --steps 8000 --val-every 250" ;;
  esac
  echo "--workers $((w < 1 ? 1 : w)) --threads 2 --ckpt-minutes 2"
}
extra_args() { local v="GPU_SESSION_$(echo "$1" | tr a-z A-Z)_ARGS"; echo "${!v:-}"; }

train_one() { # TASK BOX_SECONDS: one time-boxed run; once more in fp32 when bf16 fails before any weights
  local task=$1 box=$2 t0 rc rest
  set -f # a background subshell: the JSON of --hparams holds [..], which must not glob
  t0=$(date +%s)
  # shellcheck disable=SC2046 # the option strings hold no spaces inside an option
  timeout -k 15 $((box + 60)) "$PY" -m restorer_gui.training.cli train "$task" --patch-cache "$CACHE" \
    --out "$RUNS/$task" --no-progress --max-minutes "$(minutes "$box")" $(train_args "$task") $(extra_args "$task") \
    >"$LOGS/train-$task.txt" 2>&1
  rc=$?
  rest=$((box - ($(date +%s) - t0)))
  if [ $rc -ne 0 ] && [ ! -f "$RUNS/$task/best.pt" ] && [ $rest -ge 30 ]; then
    echo "--- exit $rc without weights: once more with --amp off for ${rest}s" >>"$LOGS/train-$task.txt"
    rm -rf "${RUNS:?}/$task"
    timeout -k 15 $((rest + 60)) "$PY" -m restorer_gui.training.cli train "$task" --patch-cache "$CACHE" \
      --out "$RUNS/$task" --no-progress --max-minutes "$(minutes "$rest")" $(train_args "$task") \
      $(extra_args "$task") --amp off >>"$LOGS/train-$task.txt" 2>&1
    rc=$?
  fi
  echo $rc >"$RUNS/$task.rc"
}

t0=$(date +%s)
BOX=$(($(left) - RESERVE))
[ $BOX -gt $BOX_MAX ] && BOX=$BOX_MAX
if [ ! -f "$CACHE" ]; then
  part train SKIPPED 0 "no patch cache at $CACHE (here: restorer patches $CACHE --count 500 --size 160; carry .cache)"
elif [ $NOT_GPU = 1 ]; then
  part train SKIPPED 0 "no CUDA here"
elif [ $BOX -lt $BOX_MIN ]; then
  part train SKIPPED 0 "only $(left)s left"
else
  say "train: $TASKS at once for ${BOX}s each, cache $CACHE ($(du -h "$CACHE" | cut -f1)), $NCPU CPUs"
  if [ "$CUDA" = 1 ] && command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 15 >"$LOGS/gpu-util.txt" 2>&1 &
    SMI=$!
  fi
  pids=()
  for task in $TASKS; do
    train_one "$task" "$BOX" &
    pids+=($!)
  done
  wait "${pids[@]}"
  [ -n "${SMI:-}" ] && kill "$SMI" 2>/dev/null
  if [ -s "$LOGS/gpu-util.txt" ]; then
    say "train: GPU utilisation every 15 s: $(awk -F', ' '{printf "%s ", $2}' "$LOGS/gpu-util.txt")"
  fi
  part train done $(($(date +%s) - t0)) "time box ${BOX}s per model"
fi

# ------------------------------------------------------------------ 4. export, figures, one archive per model
id_for() { case $1 in scratch) echo damage-unet-gpu ;; inpaint) echo inpaint-smooth-gpu ;; denoise) echo denoise-unet-gpu ;; esac; }
pack_one() { # TASK: export the best weights, a validation figure, and $OUT/TASK.tar.gz
  local task=$1 run=$RUNS/$1 dir=$EXPORT/$1 id rc=0 cmd
  id=$(id_for "$task")
  mkdir -p "$dir"
  cp "$LOGS/train-$task.txt" "$dir/train.log" 2>/dev/null
  cp "$run/log.jsonl" "$run/config.json" "$dir/" 2>/dev/null
  if [ ! -f "$run/best.pt" ]; then
    echo "no weights (exit $(cat "$run.rc" 2>/dev/null || echo ?))" >"$dir/status.txt"
    tar -czf "$OUT/$task.tar.gz" -C "$dir" . 2>>"$LOGS/pack.txt"
    return 1
  fi
  cmd="python -m restorer_gui.training.cli train $task $(train_args "$task" | tr '\n' ' ')$(extra_args "$task")"
  "$PY" -m restorer_gui.training.cli export "$run/best.pt" --id "$id" --models-dir "$dir" --no-speed \
    --reproduce "restorer patches .cache/patches.npy --count 500 --size 160 && $cmd --patch-cache .cache/patches.npy --max-minutes $(minutes "$BOX") --out checkpoints/$id && python -m restorer_gui.training.cli export checkpoints/$id/best.pt --id $id" \
    --notes "trained by tools/gpu_session.sh ($BUDGET) on $MACHINE for ${BOX}s from the carried patch cache; best held-out step" \
    >>"$LOGS/export-$task.txt" 2>&1 || rc=1
  "$PY" tools/gpu_session.py train-summary "$run" >"$dir/summary.txt" 2>>"$LOGS/export-$task.txt" || rc=1
  cp "$run/summary.json" "$dir/" 2>/dev/null
  "$PY" tools/gpu_session.py figure "$run" "$CACHE" "$dir/val.png" >>"$LOGS/export-$task.txt" 2>&1 || rc=1
  tar -czf "$OUT/$task.tar.gz" -C "$dir" . 2>>"$LOGS/pack.txt" || rc=1
  return $rc
}

t0=$(date +%s)
for task in $TASKS; do
  [ -d "$RUNS/$task" ] || continue
  (pack_one "$task"; echo $? >"$EXPORT/$task.rc") &
done
wait
for task in $TASKS; do
  [ -d "$RUNS/$task" ] || continue
  if [ "$(cat "$EXPORT/$task.rc" 2>/dev/null)" = 0 ]; then
    part "$task" ok "$(($(date +%s) - t0))" "$(cat "$EXPORT/$task/summary.txt")"
  else
    part "$task" FAILED "$(($(date +%s) - t0))" "exit $(cat "$RUNS/$task.rc" 2>/dev/null); $(tail -2 "$LOGS/train-$task.txt" "$LOGS/export-$task.txt" 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
  fi
done

# ------------------------------------------------------------------ 5. logs; at most 8 files of at most 16 MiB
tar -czf "$OUT/logs.tar.gz" -C "$LOGS" . 2>/dev/null
n=0
for f in "$OUT"/*; do
  n=$((n + 1))
  size=$(stat -c %s "$f")
  [ "$size" -gt $((16 * 1024 * 1024)) ] && say "WARNING: $(basename "$f") is $((size / 1048576)) MiB: over the 16 MiB that come back"
done
[ $n -gt 8 ] && say "WARNING: $n files in \$OUT: only 8 come back"
say "outputs: $(cd "$OUT" && ls -s --block-size=K | tail -n +2 | awk '{printf "%s (%s) ", $2, $1}')"
if [ $NOT_GPU = 1 ]; then
  say "gpu_session: finished in $(now)s; NOT A GPU MACHINE (exit 3)"
  exit 3
fi
say "gpu_session: finished in $(now)s; $([ $FAILED = 0 ] && echo 'every part ok or skipped' || echo 'some part FAILED')"
exit $FAILED
